"""Outbound webhooks to scheduling backends, following Standard Webhooks
(https://www.standardwebhooks.com).

- `signing`: endpoint secrets (`whsec_…`) and the `v1,` HMAC-SHA256 signature.
- `outbox`: `enqueue(session, …)` writes delivery rows in the caller's transaction.
- `endpoints`: a tenant's endpoints (the secret is returned once, stored encrypted).
- `connection_events`: what the connection.* events carry.
- `schedule`: the retry schedule (~3 days, exponential, jittered).
- `delivery`: the worker that claims due rows and POSTs them.

Nothing here runs at import; the worker is started by `create_app` when
`Settings.webhook_worker` is on.
"""
