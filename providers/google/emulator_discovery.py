"""Google's own description of the Calendar API, read from the discovery document that ships
inside google-api-python-client (the same file the SDK builds its requests from).

The emulator takes each method's accepted OAuth scopes from it, so read/write permissions
follow Google's published data instead of a hand-copied table, and the tests check every
response against its schemas.
"""

from __future__ import annotations

import functools
import json
from typing import Any


@functools.cache
def calendar_discovery() -> dict[str, Any]:
    from googleapiclient.discovery_cache import get_static_doc  # local: only needed by the sandbox

    document = get_static_doc("calendar", "v3")
    if document is None:  # pragma: no cover - the document ships with the SDK
        raise RuntimeError("google-api-python-client has no bundled calendar.v3 discovery document")
    return json.loads(document)


def meet_discovery() -> dict[str, Any]:
    """Meet REST API v2, bundled with google-api-python-client like Calendar's."""
    from googleapiclient.discovery_cache import get_static_doc

    document = get_static_doc("meet", "v2")
    if document is None:  # pragma: no cover - the document ships with the SDK
        raise RuntimeError("google-api-python-client has no bundled meet.v2 discovery document")
    return json.loads(document)


def _methods(resources: dict[str, Any]):
    for resource in resources.values():
        yield from resource.get("methods", {}).values()
        yield from _methods(resource.get("resources", {}))


def method_scopes(document: dict[str, Any] | None = None) -> dict[str, frozenset[str]]:
    """Method id (``calendar.events.insert``) -> the scopes any one of which allows it."""
    document = document or calendar_discovery()
    return {m["id"]: frozenset(m.get("scopes", ())) for m in _methods(document["resources"])}


def api_scopes(document: dict[str, Any] | None = None) -> dict[str, str]:
    """Every Calendar scope -> Google's description of it (shown on the consent page)."""
    document = document or calendar_discovery()
    return {scope: info["description"] for scope, info in document["auth"]["oauth2"]["scopes"].items()}


def rpc_method_name(method_id: str) -> str:
    """``calendar.events.insert`` -> ``calendar.v3.Events.Insert``, as Google names the method
    in ErrorInfo metadata."""
    service, *rest = method_id.split(".")
    return ".".join([service, "v3", *(part[:1].upper() + part[1:] for part in rest)])
