"""The hub's side of push notifications and incremental sync (issue 12).

- `channels`: open a push channel when a calendar is connected, renew it before it expires,
  recreate it when the provider drops it, stop it on disconnect; a failure leaves the channel
  `failed` with its error and the job retries with backoff.
- `notices`: what an inbound notification may do once its channel and secret are verified
  (mark the connection dirty, queue one sync per burst, lifecycle actions).
- `runner`: one sync of one connection (incremental with the stored cursor, full over the
  rolling window when there is none or the provider refuses it) into the busy cache.
- `changes`: what a sync reports about events the hub created becomes `event.updated` /
  `event.cancelled`.
- `status`: the sync status of a connection (API and diagnostics).

Every provider call runs in a background job (hub/jobs/catalog.py); the request path only
reads and writes rows. Nothing here knows Flask or a provider by name.
"""
