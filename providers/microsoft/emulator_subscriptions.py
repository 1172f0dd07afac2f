"""Graph change notifications for the sandbox: ``/v1.0/subscriptions`` on Outlook events, the
validation handshake, change notifications with ``clientState`` and lifecycle notifications.
https://learn.microsoft.com/graph/api/resources/subscription,
https://learn.microsoft.com/graph/change-notifications-delivery-webhooks,
https://learn.microsoft.com/graph/change-notifications-lifecycle-events

- ``POST /subscriptions`` ``{"changeType","notificationUrl","lifecycleNotificationUrl"?,
  "resource":"me/events"|"/users/{id|upn}/events","expirationDateTime","clientState"?}``: before
  answering 201, Graph POSTs ``?validationToken=<token>`` to the notification URL (and to the
  lifecycle URL) and needs **200, text/plain, the token exactly** within 10 s; otherwise 400 and
  no subscription. ``GET``/``PATCH`` (``expirationDateTime``)/``DELETE /subscriptions/{id}``;
  404 ResourceNotFound once it is gone (deleted, removed, or expired).
- Every change to an event of a subscribed mailbox is pushed (``ctx.push``: its own thread,
  retried, logged at ``GET /_control/notifications``) as ``{"value":[{subscriptionId,
  subscriptionExpirationDateTime, changeType, resource, resourceData, clientState, tenantId}]}``;
  an expired subscription sends nothing.
- Lifecycle faults (``POST /_control/faults``, acting at once on the email's subscriptions):
  ``subscription_removed`` (deleted, then ``subscriptionRemoved``), ``missed`` (with params
  ``{"changes": N}``: the mailbox's next N changes are not notified, then ``missed`` is sent),
  ``reauthorization_required``; bodies ``{"value":[{subscriptionId,
  subscriptionExpirationDateTime, tenantId, clientState, lifecycleEvent}]}``.

Subscriptions are kept in SandboxState (``provider_data``), so the demo's snapshot keeps them.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import requests
from flask import Response

from providers.emulator_kit.accounts import normalise_email
from providers.emulator_kit.push import after_the_answer

from .emulator_errors import GraphError, bad_body
from .emulator_oauth import object_id, tenant_id

if TYPE_CHECKING:
    from providers.emulator_kit.accounts import Account

    from .emulator import MicrosoftEmulator

PROVIDER = "microsoft"
CONTEXT = "https://graph.microsoft.com/v1.0/$metadata"
MAX_MINUTES = 10_080  # Outlook events: just under 7 days [doc]
VALIDATION_TIMEOUT = 10.0  # seconds Graph waits for the validation answer [doc]
MAX_CLIENT_STATE = 128  # [doc]
CHANGE_TYPES = ("created", "updated", "deleted")
LIFECYCLE_EVENTS = {"subscription_removed": "subscriptionRemoved", "missed": "missed",
                    "reauthorization_required": "reauthorizationRequired"}
_EVENTS_RESOURCE = re.compile(r"^/?(?:me|users/([^/]+))/events/?$", re.IGNORECASE)


def _instant_text(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"


def _invalid(message: str, code: str = "InvalidRequest") -> GraphError:
    return GraphError(400, code, message)


def not_found() -> GraphError:
    # [seen] microsoftgraph/msgraph-sdk-php#221
    return GraphError(404, "ResourceNotFound", "The object was not found.")


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params, quote_via=quote)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


class SubscriptionStore:
    def __init__(self, emulator: "MicrosoftEmulator") -> None:
        self.emulator = emulator
        self.state = emulator.ctx.state

    def _all(self) -> dict[str, dict[str, Any]]:
        return self.state.provider_data(PROVIDER).setdefault("subscriptions", {})

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.emulator.ctx.now(), timezone.utc)

    def active(self, subscription_id: str) -> dict[str, Any] | None:
        with self.state.lock:
            found = self._all().get(subscription_id)
            return found if found is not None and found["_expires_at"] > self._now() else None

    def of_mailbox(self, email: str) -> list[dict[str, Any]]:
        now = self._now()
        with self.state.lock:
            return [s for s in self._all().values() if s["_mailbox"] == email and s["_expires_at"] > now]

    # -- the API -----------------------------------------------------------------------------
    def _expiry(self, value: Any) -> datetime:
        if not isinstance(value, str) or not value:
            # [seen] microsoftgraph/microsoft-graph-docs-contrib#7399
            raise _invalid("expirationDateTime is a required property for subscription creation.")
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise bad_body(f"Cannot convert the literal '{value}' to the expected type 'Edm.DateTimeOffset'.") from None
        moment = (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
        now = self._now()
        if moment <= now:
            raise _invalid("Subscription expiration must be in the future.", "ExtensionError")  # [?] wording
        if moment > now + timedelta(minutes=MAX_MINUTES):
            # [seen] microsoftgraph/microsoft-graph-docs#2988 (then 4230 minutes for events)
            raise _invalid(f"Subscription expiration can only be {MAX_MINUTES} minutes in the future.",
                           "ExtensionError")
        return moment

    def create(self, account: "Account", body: dict[str, Any]) -> dict[str, Any]:
        change_type = body.get("changeType")
        kinds = [k.strip() for k in change_type.split(",")] if isinstance(change_type, str) else []
        if not kinds or any(k not in CHANGE_TYPES for k in kinds):
            raise _invalid(f"Invalid 'changeType' attribute: '{change_type}'.")  # [?] wording
        resource = body.get("resource")
        match = _EVENTS_RESOURCE.match(resource) if isinstance(resource, str) else None
        if match is None:
            raise _invalid(f"Resource '{resource}' is not supported.")  # [?] the sandbox serves events only
        user = match.group(1)
        if user is not None and normalise_email(user) not in (account.email, object_id(account.email)):
            raise GraphError(403, "ExtensionError", "Operation: Create; Exception: [Status Code: Forbidden; "
                             "Reason: Access is denied. Check credentials and try again.]")  # [?]
        urls = {}
        for key in ("notificationUrl", "lifecycleNotificationUrl"):
            url = body.get(key)
            if url is None and key == "lifecycleNotificationUrl":
                continue
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                # Real Graph insists on https; the sandbox's hub is local, so http is allowed too.
                raise _invalid(f"Invalid '{key}' attribute: '{url}'.")  # [?] wording
            urls[key] = url
        client_state = body.get("clientState")
        if client_state is not None and (not isinstance(client_state, str) or len(client_state) > MAX_CLIENT_STATE):
            raise _invalid(f"clientState must be at most {MAX_CLIENT_STATE} characters.")  # [?] wording
        expires = self._expiry(body.get("expirationDateTime"))
        for url in urls.values():  # the handshake, before anything exists
            validate_endpoint(url)
        subscription_id = str(uuid.uuid4())
        record = {
            "id": subscription_id, "resource": resource, "applicationId": self.emulator.client.client_id,
            "changeType": ",".join(kinds), "clientState": client_state,
            "notificationUrl": urls["notificationUrl"],
            "notificationQueryOptions": None, "lifecycleNotificationUrl": urls.get("lifecycleNotificationUrl"),
            "creatorId": object_id(account.email), "includeResourceData": False,
            "latestSupportedTlsVersion": "v1_2", "encryptionCertificate": None, "encryptionCertificateId": None,
            "notificationUrlAppId": None,
            "_expires_at": expires, "_mailbox": account.email,
        }
        with self.state.lock:
            self._all()[subscription_id] = record
        return record

    def owned(self, account: "Account", subscription_id: str) -> dict[str, Any]:
        found = self.active(subscription_id)
        if found is None or found["_mailbox"] != account.email:
            raise not_found()
        return found

    def renew(self, account: "Account", subscription_id: str, body: dict[str, Any]) -> dict[str, Any]:
        found = self.owned(account, subscription_id)
        if "expirationDateTime" not in body and "notificationUrl" not in body:
            # [seen] microsoftgraph/msgraph-sdk-java#2323
            raise _invalid("Subscription must contain either the 'expirationDateTime' or 'notificationUrl' property "
                           "and its value.")
        expires = self._expiry(body["expirationDateTime"]) if "expirationDateTime" in body else found["_expires_at"]
        if "notificationUrl" in body:
            url = body["notificationUrl"]
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise _invalid(f"Invalid 'notificationUrl' attribute: '{url}'.")
            validate_endpoint(url)
        with self.state.lock:
            found["_expires_at"] = expires
            found["notificationUrl"] = body.get("notificationUrl", found["notificationUrl"])
        return found

    def delete(self, account: "Account", subscription_id: str) -> None:
        self.owned(account, subscription_id)
        with self.state.lock:
            self._all().pop(subscription_id, None)

    # -- pushing -----------------------------------------------------------------------------
    def _post(self, url: str, item: dict[str, Any], kind: str) -> None:
        body = json.dumps({"value": [item]}).encode()
        push = self.emulator.ctx.push
        after_the_answer(lambda: push.send(PROVIDER, url, {"Content-Type": "application/json; charset=utf-8"},
                                           body, kind))

    def _common(self, subscription: dict[str, Any]) -> dict[str, Any]:
        return {"subscriptionId": subscription["id"],
                "subscriptionExpirationDateTime": _instant_text(subscription["_expires_at"]),
                "tenantId": tenant_id(subscription["_mailbox"]), "clientState": subscription["clientState"]}

    def notify(self, email: str, event: dict[str, Any], change: str) -> None:
        """A change to one of `email`'s events: one notification per subscription that asked for
        this change type (the push sender's thread delivers it; nothing here waits)."""
        if self._dropped(email):
            return
        for subscription in self.of_mailbox(email):
            if change not in subscription["changeType"].split(","):
                continue
            user = object_id(email)
            path = f"Users/{user}/Events/{event['id']}"
            item = {"subscriptionId": subscription["id"],
                    "subscriptionExpirationDateTime": _instant_text(subscription["_expires_at"]),
                    "changeType": change, "resource": path,
                    "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "@odata.id": path,
                                     "@odata.etag": f'W/"{event["changeKey"]}"', "id": event["id"]},
                    "clientState": subscription["clientState"], "tenantId": tenant_id(email)}
            self._post(subscription["notificationUrl"], item, "change")

    def _dropping(self) -> dict[str, int]:
        return self.state.provider_data(PROVIDER).setdefault("dropping_notifications", {})

    def _dropped(self, email: str) -> bool:
        """Whether a `missed` fault swallows this change; the last one it swallows is followed
        by the `missed` lifecycle notification, as Graph says so after the fact."""
        with self.state.lock:
            left = self._dropping().get(email, 0)
            if not left:
                return False
            if left > 1:
                self._dropping()[email] = left - 1
                return True
            del self._dropping()[email]
        self.lifecycle(email, "missed")
        return True

    def lifecycle(self, email: str | None, scenario: str, changes: int = 0) -> int:
        """Act on a lifecycle fault for the subscriptions of `email` (every mailbox when None);
        how many subscriptions it touched. `missed` with `changes` > 0 (an email required)
        first swallows that many change notifications of the mailbox, then says so."""
        event = LIFECYCLE_EVENTS[scenario]
        if scenario == "missed" and changes > 0 and email is not None:
            with self.state.lock:
                self._dropping()[normalise_email(email)] = changes
            return len(self.of_mailbox(normalise_email(email)))
        with self.state.lock:
            targets = [s for s in self._all().values() if email is None or s["_mailbox"] == normalise_email(email)]
            targets = [s for s in targets if s["_expires_at"] > self._now()]
            for subscription in targets:
                if scenario == "subscription_removed":
                    self._all().pop(subscription["id"], None)
        for subscription in targets:
            url = subscription["lifecycleNotificationUrl"]
            if url:  # without a lifecycle URL Graph has nowhere to say it [doc]
                self._post(url, {**self._common(subscription), "lifecycleEvent": event}, event)
        return len(targets)


def validate_endpoint(url: str) -> None:
    """Graph's handshake: POST `url?validationToken=…` and require 200, text/plain, the token."""
    # The token reads as Graph's does today (a sentence with spaces and a colon), so a receiver
    # that does not URL-decode it fails here as it would against Graph. [seen]
    # microsoftgraph/microsoft-graph-docs#21160
    token = f"Validation: Testing client application reachability for subscription Request-Id: {uuid.uuid4()}"
    session = requests.Session()
    session.trust_env = False  # never through a proxy: the receiver is on this machine
    try:
        answer = session.post(_with_query(url, validationToken=token), data=b"",
                              headers={"Content-Type": "text/plain; charset=utf-8"}, timeout=VALIDATION_TIMEOUT)
    except requests.Timeout:
        # [seen] microsoftgraph/nodejs-webhooks-sample#350
        raise _invalid("Subscription validation request timed out.") from None
    except requests.RequestException:
        raise _invalid("Subscription validation request failed. Notification endpoint must respond with 200 OK to "
                       "validation request.", "ValidationError") from None
    finally:
        session.close()
    if answer.status_code != 200:
        # [seen] splunk/azure-functions-splunk#26
        raise _invalid("Subscription validation request failed. Notification endpoint must respond with 200 OK to "
                       "validation request.", "ValidationError")
    content_type = answer.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if answer.text != token or content_type != "text/plain":
        # [seen] microsoftgraph/java-spring-webhooks-sample#82
        raise _invalid("Subscription validation request failed. Response must exactly match validationToken query "
                       "parameter.", "ValidationError")


def wire(subscription: dict[str, Any], context: bool = True) -> dict[str, Any]:
    out = {k: v for k, v in subscription.items() if not k.startswith("_")}
    out["expirationDateTime"] = _instant_text(subscription["_expires_at"])
    return {"@odata.context": f"{CONTEXT}#subscriptions/$entity", **out} if context else out


def register_subscriptions_api(graph_call: Callable[..., Any], route: Callable[..., None],
                               store: SubscriptionStore, scopes: frozenset[str],
                               read_json: Callable[[], dict[str, Any]]) -> None:
    @graph_call(scopes)  # an unlicensed mailbox has no events to watch
    def create(account: "Account"):
        return wire(store.create(account, read_json())), 201

    @graph_call(scopes, mailbox=False)
    def listing(account: "Account"):
        with store.state.lock:
            mine = [wire(s, context=False) for s in store.of_mailbox(account.email)]
        return {"@odata.context": f"{CONTEXT}#subscriptions", "value": mine}

    @graph_call(scopes, mailbox=False)
    def get(account: "Account", subscription_id: str):
        return wire(store.owned(account, subscription_id))

    @graph_call(scopes, mailbox=False)
    def patch(account: "Account", subscription_id: str):
        return wire(store.renew(account, subscription_id, read_json()))

    @graph_call(scopes, mailbox=False)
    def delete(account: "Account", subscription_id: str):
        store.delete(account, subscription_id)
        return Response(status=204)

    @graph_call(scopes, mailbox=False)
    def reauthorize(account: "Account", subscription_id: str):
        # What answers reauthorizationRequired besides a PATCH; the sandbox keeps delivering
        # either way, so there is nothing to change.
        store.owned(account, subscription_id)
        return Response(status=204)

    route("/subscriptions", "graph_subscriptions_create", create, ["POST"])
    route("/subscriptions", "graph_subscriptions_list", listing, ["GET"])
    route("/subscriptions/<subscription_id>", "graph_subscription_get", get, ["GET"])
    route("/subscriptions/<subscription_id>", "graph_subscription_patch", patch, ["PATCH"])
    route("/subscriptions/<subscription_id>", "graph_subscription_delete", delete, ["DELETE"])
    route("/subscriptions/<subscription_id>/reauthorize", "graph_subscription_reauthorize", reauthorize, ["POST"])
