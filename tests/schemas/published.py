"""Check emulator responses against the providers' published schemas.

- Google: the Calendar API discovery document shipped in google-api-python-client.
- Microsoft Graph: ``graph/v1.0-subset.json``, the types the emulator serves, from Graph's CSDL
  metadata; errors against the ``ODataError`` shape of Graph's OpenAPI document.
- Zoom: ``zoom/meetings-subset.json``, the meeting operations of Zoom's OpenAPI document.

Checking is strict: a property the published type does not declare is a violation (OData
annotations such as ``@odata.context`` and delta's ``@removed`` excepted), so a field a client
library would not expect shows up here first. ``violations(provider, method, path, status, body)`` answers [] for a
response no published schema covers (OAuth endpoints, Zoom errors).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
_JSON_TYPES = {"string": str, "boolean": bool, "integer": int, "number": (int, float), "null": type(None)}

# Zoom's published document we keep (v2.0.0) predates these fields of Zoom's current meeting
# reference: meeting fields the create/get answers carry, and newer settings (the emulator keeps
# them, see providers/zoom/emulator_settings.py). They are declared here rather than ignored.
ZOOM_NEWER_FIELDS = frozenset({
    "uuid", "host_id", "status", "pstn_password", "encrypted_password", "pre_schedule",

    "additional_data_center_regions", "alternative_host_update_polls", "audio_conference_info",
    "auto_start_meeting_summary", "auto_start_ai_companion_questions", "calendar_type", "continuous_meeting_chat",
    "device_testing", "disable_participant_video", "email_in_attendee_report", "email_notification",
    "enable_dedicated_group_chat", "focus_mode", "host_save_video_order", "internal_meeting", "meeting_invitees",
    "participant_focused_meeting", "private_meeting", "push_change_to_calendar",
    "request_permission_to_unmute_participants", "resources", "show_join_info", "sign_language_interpretation",
})
# [?] Graph's OpenAPI: microsoft.graph.ODataErrors.ODataError / MainError / InnerError.
GRAPH_ERROR = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}, "target": {"type": "string"},
        "details": {"type": "array"},
        "innerError": {"type": "object", "properties": {
            "request-id": {"type": "string"}, "client-request-id": {"type": "string"}, "date": {"type": "string"}},
            "additionalProperties": True}}}},
}


class Schemas:
    """One provider's schema set and how it refers to its types."""

    def __init__(self, definitions: dict[str, Any], ref_prefix: str, allowed_extra=lambda key: False) -> None:
        self.definitions = definitions
        self.ref_prefix = ref_prefix
        self.allowed_extra = allowed_extra
        self.fields_checked = 0  # for the figures: how many values a run compared with a schema

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.definitions[schema["$ref"].removeprefix(self.ref_prefix)]
        return schema

    def check(self, value: Any, schema: dict[str, Any], path: str) -> list[str]:
        self.fields_checked += 1
        schema = self.resolve(schema)
        if "anyOf" in schema:
            attempts = [self.check(value, option, path) for option in schema["anyOf"]]
            return [] if any(not a for a in attempts) else min(attempts, key=len)
        if "allOf" in schema:
            merged: dict[str, Any] = {"type": "object", "properties": {}}
            for part in schema["allOf"]:
                merged["properties"].update(self.resolve(part).get("properties", {}))
            return self.check(value, merged, path)
        if schema.get("nullable") and value is None:
            return []
        kind = schema.get("type")
        if kind == "object" or "properties" in schema or "additionalProperties" in schema:
            return self._object(value, schema, path)
        if kind == "array":
            if not isinstance(value, list):
                return [f"{path}: expected an array"]
            items = schema.get("items", {})
            return [p for i, item in enumerate(value) for p in self.check(item, items, f"{path}[{i}]")]
        expected = _JSON_TYPES.get(kind)
        if expected and (not isinstance(value, expected) or (kind not in ("boolean",) and isinstance(value, bool))):
            return [f"{path}: expected {kind}, got {type(value).__name__}"]
        if "enum" in schema and value not in schema["enum"]:
            return [f"{path}: {value!r} not in {schema['enum']}"]
        return []

    def _object(self, value: Any, schema: dict[str, Any], path: str) -> list[str]:
        if not isinstance(value, dict):
            return [f"{path}: expected an object"]
        if schema.get("x-derived") and value.get("@odata.type"):
            schema = self.resolve({"$ref": self.ref_prefix + value["@odata.type"].lstrip("#")})
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties")
        problems = [f"{path}.{k}: required" for k in schema.get("required", ()) if k not in value]
        for key, item in value.items():
            if key in properties:
                problems += self.check(item, properties[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                problems += self.check(item, extra, f"{path}[{key!r}]")
            elif extra is True or key.startswith("@odata.") or key == "@removed" or self.allowed_extra(key):
                continue
            else:
                problems.append(f"{path}.{key}: not a property of the published schema")
        return problems


# -- per provider ---------------------------------------------------------------------------------
@functools.cache
def google() -> tuple[Schemas, list[tuple[str, re.Pattern[str], str]]]:
    from googleapiclient.discovery_cache import get_static_doc

    document = json.loads(get_static_doc("calendar", "v3"))
    routes = []

    def walk(resources: dict[str, Any]) -> None:
        for resource in resources.values():
            for method in resource.get("methods", {}).values():
                if "response" in method:
                    pattern = re.sub(r"\{[^}]+\}", "[^/]+", method["path"])
                    routes.append((method["httpMethod"], re.compile(f"^{pattern}$"), method["response"]["$ref"]))
            walk(resource.get("resources", {}))

    walk(document["resources"])
    return Schemas(document["schemas"], ""), routes


@functools.cache
def graph() -> tuple[Schemas, list[tuple[str, re.Pattern[str], str]]]:
    definitions = json.loads((HERE / "graph" / "v1.0-subset.json").read_text())["definitions"]
    definitions["ODataError"] = GRAPH_ERROR
    for name in ("event", "calendar"):
        definitions[f"collection.{name}"] = {"type": "object", "properties": {
            "value": {"type": "array", "items": {"$ref": f"#/definitions/microsoft.graph.{name}"}}}}
    definitions["collection.scheduleInformation"] = {"type": "object", "properties": {
        "value": {"type": "array", "items": {"$ref": "#/definitions/microsoft.graph.scheduleInformation"}}}}
    calendar = r"/me/(?:calendar|calendars/[^/]+)"
    routes = [
        ("GET", r"/me", "microsoft.graph.user"),
        ("GET", r"/me/mailbox[sS]ettings", "microsoft.graph.mailboxSettings"),
        ("GET", calendar, "microsoft.graph.calendar"),
        ("GET", r"/me/calendars", "collection.calendar"),
        ("POST", r"/(?:me|users/[^/]+)/calendar/get[sS]chedule", "collection.scheduleInformation"),
        ("GET", r"/me(?:|/calendar|/calendars/[^/]+)/calendar[vV]iew", "collection.event"),
        # Delta pages: events, and deleted ones as {"id", "@removed"} (OData's deleted-entity annotation).
        ("GET", r"/me(?:|/calendar)/calendar[vV]iew/delta(?:\(\))?", "collection.event"),
        ("GET", rf"(?:/me|{calendar})/events", "collection.event"),
        ("POST", rf"(?:/me|{calendar})/events", "microsoft.graph.event"),
        ("GET", rf"(?:/me|{calendar})/events/[^/]+", "microsoft.graph.event"),
        ("PATCH", rf"(?:/me|{calendar})/events/[^/]+", "microsoft.graph.event"),
    ]
    return (Schemas(definitions, "#/definitions/"),
            [(m, re.compile(f"^{p}$"), name) for m, p, name in routes])


@functools.cache
def zoom() -> tuple[Schemas, list[tuple[str, re.Pattern[str], str]]]:
    document = json.loads((HERE / "zoom" / "meetings-subset.json").read_text())
    routes = []
    for route, operations in document["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", route) + "$")
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                schema = (answer.get("content", {}).get("application/json", {}).get("schema") or {}).get("$ref")
                if schema and status.startswith("2"):
                    routes.append((method.upper(), pattern, schema.rsplit("/", 1)[-1]))
    return Schemas(document["components"]["schemas"], "#/components/schemas/", ZOOM_NEWER_FIELDS.__contains__), routes


PROVIDERS = {"google": ("/google/calendar/v3", google), "microsoft": ("/microsoft/v1.0", graph), "zoom": ("/zoom/v2", zoom)}


def schema_for(method: str, path: str, status: int) -> tuple[str, Schemas, str] | None:
    """(provider, schemas, type name) the published documents give this response, or None."""
    for provider, (root, load) in PROVIDERS.items():
        if not path.startswith(root + "/"):
            continue
        schemas, routes = load()
        relative = path[len(root):] if provider != "google" else path[len(root) + 1:]
        if provider == "microsoft" and status >= 400:
            return provider, schemas, "ODataError"
        if not 200 <= status < 300:
            return None
        for route_method, pattern, name in routes:
            if route_method == method and pattern.match(relative):
                return provider, schemas, name
        return None
    return None


def violations(method: str, path: str, status: int, body: Any) -> list[str]:
    found = schema_for(method, path, status)
    if found is None:
        return []
    provider, schemas, name = found
    return schemas.check(body, {"$ref": schemas.ref_prefix + name}, f"{provider}:{method} {path} [{name}]")


def figures() -> dict[str, int]:
    """Values compared with a published schema so far in this process, per provider."""
    return {provider: load().__getitem__(0).fields_checked for provider, (_, load) in PROVIDERS.items()}
