"""The sandbox's CalDAV server: a real Radicale (PyPI ``radicale``) mounted under ``/caldav``.

Unlike the other emulators nothing here imitates a wire format: Radicale *is* a CalDAV server
(RFC 4791), so the adapter's `caldav` library talks to the real thing. What this module adds is
what the sandbox needs around it:

- storage in a temporary directory per sandbox app (``/_control/reset`` empties it);
- an htpasswd file (plain passwords: sandbox only) that ``POST /_control/accounts
  {"provider":"caldav","email","password"?}`` adds users to, default password
  ``app-password``, each user getting one calendar ``/caldav/<email>/calendar/``;
- ``POST /_control/events`` writes a VEVENT there, ``GET /_control/events`` reads them back
  (the iCalendar text plus the main fields as JSON);
- faults: ``latency`` (from the base class), ``rate_limit``, ``server_error`` and
  ``calendar_deleted`` (the account's calendar is removed now, as a person deleting it in
  their calendar app would).

Paths: ``/caldav/`` is the server root (the URL a person types into the connect form);
``/caldav/<email>/`` the principal and calendar home; ``/caldav/<email>/calendar/`` the calendar.
"""
from __future__ import annotations

import base64
import io
import logging
import os
import shutil
import tempfile
import threading
import uuid
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import icalendar
import radicale
import radicale.config
from flask import Blueprint, Response, request
from werkzeug.test import Client

from providers.emulator_kit.accounts import Account, normalise_email
from providers.emulator_kit.context import SandboxContext
from providers.emulator_kit.emulator import ProviderEmulator
from providers.emulator_kit.faults import Fault
from providers.emulator_kit.oauth_dialect import OAuthDialect

DEFAULT_PASSWORD = "app-password"
CALENDAR = "calendar"
# WebDAV + CalDAV methods Radicale answers; Flask routes must list them.
DAV_METHODS = ["GET", "HEAD", "OPTIONS", "PROPFIND", "PROPPATCH", "REPORT", "PUT", "DELETE",
               "MKCOL", "MKCALENDAR", "MOVE", "POST"]

CALDAV_SCENARIOS: Mapping[str, str] = {
    "latency": 'Every request to the CalDAV server waits params.ms milliseconds first ({"ms": 100}).',
    "rate_limit": 'The server answers 429 with Retry-After (params {"retry_after": 2, "status": 429|503}).',
    "server_error": 'The server answers 500 (params {"status": 503} for another 5xx).',
    "calendar_deleted": "The account's calendar is deleted now (with its events), as its owner would "
                        "in their calendar app; the account and its password stay.",
}
STATUS_MAP = {"busy": ("OPAQUE", "CONFIRMED"), "tentative": ("OPAQUE", "TENTATIVE"),
              "free": ("TRANSPARENT", "CONFIRMED"), "oof": ("OPAQUE", "CONFIRMED")}


class RadicaleServer:
    """One Radicale application with its own storage and htpasswd file in a temp directory,
    removed when the object is collected."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="hub-caldav-"))
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.root), True)
        self.htpasswd = self.root / "users"
        self.htpasswd.write_text("")
        self.collections = self.root / "collections"
        self._passwords: dict[str, str] = {}
        self._lock = threading.Lock()
        configuration = radicale.config.load()
        configuration.update({
            "auth": {"type": "htpasswd", "htpasswd_filename": str(self.htpasswd),
                     "htpasswd_encryption": "plain", "delay": "0", "cache_logins": "False"},
            "rights": {"type": "owner_only"},
            "storage": {"filesystem_folder": str(self.collections)},
            "logging": {"level": "error", "mask_passwords": "True"},
            "web": {"type": "none"},
        }, "sandbox", privileged=True)
        self.app = radicale.Application(configuration)
        # Radicale logs every request at INFO through the host's logging: keep the sandbox quiet
        # but for refused logins and errors.
        logging.getLogger("radicale").setLevel(logging.WARNING)

    def set_user(self, username: str, password: str) -> None:
        with self._lock:
            self._passwords[username] = password
            self._write_htpasswd()

    def _write_htpasswd(self) -> None:
        # Radicale reads the file on every login: replace it whole, never let it see half a file.
        staged = self.htpasswd.with_suffix(".new")
        staged.write_text("".join(f"{u}:{p}\n" for u, p in self._passwords.items()))
        os.replace(staged, self.htpasswd)

    def password(self, username: str) -> str | None:
        with self._lock:
            return self._passwords.get(username)

    def call(self, username: str, method: str, path: str, body: bytes | str | None = None,
             headers: Mapping[str, str] | None = None) -> Any:
        """A request to Radicale as `username`, in process (werkzeug's test client)."""
        auth = base64.b64encode(f"{username}:{self.password(username)}".encode()).decode()
        return Client(self.app).open(path, method=method, data=body,
                                     headers={"Authorization": f"Basic {auth}", **(headers or {})})

    def calendar_dir(self, username: str) -> Path:
        return self.collections / "collection-root" / username / CALENDAR

    def reset(self) -> None:
        with self._lock:
            self._passwords.clear()
            self._write_htpasswd()
            shutil.rmtree(self.collections, ignore_errors=True)

    def export(self) -> dict[str, Any]:
        """Users and stored collections (not Radicale's caches and locks), for a snapshot."""
        with self._lock:
            files = {}
            for path in self.collections.rglob("*"):
                if any(part in (".Radicale.cache", ".Radicale.lock") or part.startswith(".Radicale.tmp")
                       for part in path.parts):
                    continue
                try:
                    if path.is_file():
                        files[str(path.relative_to(self.collections))] = path.read_bytes()
                except FileNotFoundError:
                    continue  # Radicale replaced or removed it meanwhile (it writes under its own lock)
            return {"passwords": dict(self._passwords), "files": files}

    def restore(self, state: dict[str, Any]) -> None:
        self.reset()
        with self._lock:
            for relative, blob in state.get("files", {}).items():
                target = (self.collections / relative).resolve()
                if self.collections.resolve() not in target.parents:
                    continue  # only ever inside the storage folder
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(blob)
            self._passwords.update(state.get("passwords", {}))
            self._write_htpasswd()


def calendar_path(email: str) -> str:
    return f"/{quote(email, safe='@')}/{CALENDAR}/"


class CalDAVEmulator(ProviderEmulator):
    name: ClassVar[str] = "caldav"
    scenarios: ClassVar[Mapping[str, str]] = CALDAV_SCENARIOS

    def __init__(self, ctx: SandboxContext) -> None:
        super().__init__(ctx)
        self.server = RadicaleServer()

    def create_dialect(self) -> OAuthDialect:
        # CalDAV has no OAuth; the base class wants an authorization server, which stays unused.
        return OAuthDialect()

    def add_routes(self, blueprint: Blueprint) -> None:
        blueprint.add_url_rule("/", "dav_root", self._dav, methods=DAV_METHODS, defaults={"path": ""})
        blueprint.add_url_rule("/<path:path>", "dav", self._dav, methods=DAV_METHODS)

    def endpoints(self, base_url: str) -> dict[str, str]:
        return {"server_url": f"{base_url}/caldav/"}

    # -- accounts -----------------------------------------------------------------------------
    def account_created(self, account: Account, data: Mapping[str, Any]) -> None:
        password = data.get("password")
        self.provision(account.email, password if isinstance(password, str) and password else None)

    def provision(self, email: str, password: str | None = None) -> None:
        """The Radicale user (password set when given, else kept or defaulted) with its one
        calendar, created when missing."""
        email = normalise_email(email)
        if password is not None or self.server.password(email) is None:
            self.server.set_user(email, password or DEFAULT_PASSWORD)
        if not self.server.calendar_dir(email).exists():
            answer = self.server.call(email, "MKCALENDAR", calendar_path(email))
            if answer.status_code not in (201, 405):  # 405: made meanwhile by another request
                raise RuntimeError(f"Radicale refused MKCALENDAR: {answer.status_code}")

    def account(self, email: str) -> Account:
        account = super().account(email)
        self.provision(account.email)
        return account

    def account_for_request(self) -> str | None:
        auth = request.authorization
        return auth.username if auth is not None and auth.type == "basic" else None

    # -- the server -------------------------------------------------------------------------
    def _dav(self, path: str) -> Response:
        email = self.account_for_request()
        for scenario in ("rate_limit", "server_error"):
            fault = self.take_fault(scenario, email)
            if fault is not None:
                return _fault_response(scenario, fault)
        environ = dict(request.environ)
        # Radicale builds its hrefs from SCRIPT_NAME: every URL it answers starts /caldav.
        environ["SCRIPT_NAME"] = request.script_root + "/caldav"
        environ["PATH_INFO"] = "/" + path
        # The request log has read the body already: hand Radicale the cached bytes.
        data = request.get_data()
        environ["wsgi.input"] = io.BytesIO(data)
        environ["CONTENT_LENGTH"] = str(len(data))
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        body = b"".join(self.server.app(environ, start_response))
        return Response(body, status=captured["status"], headers=captured["headers"])

    def apply_fault(self, fault: Fault) -> bool:
        if fault.scenario == "calendar_deleted":
            if fault.email:
                shutil.rmtree(self.server.calendar_dir(fault.email), ignore_errors=True)
            return True
        return False

    def reset(self) -> None:
        self.server.reset()

    def export_state(self) -> dict[str, Any]:
        return self.server.export()

    def import_state(self, state: Any) -> None:
        if isinstance(state, dict):
            self.server.restore(state)

    # -- control: calendars -------------------------------------------------------------------
    def create_control_event(self, account: Account, start: datetime, end: datetime, status: str,
                             subject: str | None) -> dict[str, Any]:
        if status not in STATUS_MAP:
            raise ValueError(f"status must be one of {', '.join(STATUS_MAP)}")
        transp, ical_status = STATUS_MAP[status]
        uid = f"sandbox-{uuid.uuid4().hex}"
        cal = icalendar.Calendar()
        cal.add("prodid", "-//Calendar Hub sandbox//EN")
        cal.add("version", "2.0")
        event = icalendar.Event()
        event.add("uid", uid)
        event.add("dtstamp", datetime.now(UTC))
        event.add("dtstart", start.astimezone(UTC))
        event.add("dtend", end.astimezone(UTC))
        event.add("summary", subject or "Busy")
        event.add("transp", transp)
        event.add("status", ical_status)
        cal.add_component(event)
        answer = self.server.call(account.email, "PUT", f"{calendar_path(account.email)}{uid}.ics",
                                  cal.to_ical(), {"Content-Type": "text/calendar", "If-None-Match": "*"})
        if answer.status_code not in (201, 204):
            raise ValueError(f"the calendar refused the event ({answer.status_code})")
        return event_json(uid, cal.to_ical().decode())

    def control_events(self, account: Account) -> list[dict[str, Any]]:
        folder = self.server.calendar_dir(account.email)
        if not folder.exists():
            return []
        events = [event_json(item.stem, item.read_text()) for item in sorted(folder.glob("*.ics"))]
        return sorted(events, key=lambda e: (e["start"] or "", e["id"]))


def event_json(href_name: str, text: str) -> dict[str, Any]:
    """A stored calendar object as the control API shows it: the raw iCalendar, and the fields
    of its (first) VEVENT that tests and people look at."""
    cal = icalendar.Calendar.from_ical(text)
    event = next(iter(cal.walk("VEVENT")), None)

    def moment(name: str) -> str | None:
        value = event.get(name) if event is not None else None
        if value is None:
            return None
        dt = value.dt
        return dt.astimezone(UTC).isoformat().replace("+00:00", "Z") if isinstance(dt, datetime) \
            else dt.isoformat()

    def text_of(name: str) -> str | None:
        value = event.get(name) if event is not None else None
        return str(value) if value is not None else None

    attendees = event.get("attendee", []) if event is not None else []
    if not isinstance(attendees, list):
        attendees = [attendees]
    return {
        "id": href_name,
        "uid": text_of("uid"),
        "summary": text_of("summary"),
        "description": text_of("description"),
        "location": text_of("location"),
        "start": moment("dtstart"),
        "end": moment("dtend"),
        "status": text_of("status"),
        "transp": text_of("transp"),
        "sequence": int(event.get("sequence", 0)) if event is not None else 0,
        "rrule": _ical_text(event["rrule"].to_ical()) if event is not None and "rrule" in event else None,
        "organizer": str(event.get("organizer")) if event is not None and event.get("organizer") else None,
        "attendees": [{"email": str(a).removeprefix("mailto:").removeprefix("MAILTO:"),
                       "name": a.params.get("CN"), "role": a.params.get("ROLE"),
                       "partstat": a.params.get("PARTSTAT")} for a in attendees],
        "ics": text,
    }


def _ical_text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _fault_response(scenario: str, fault: Fault) -> Response:
    if scenario == "rate_limit":
        status = int(fault.params.get("status", 429))
        retry_after = fault.params.get("retry_after", 2)
        return Response("Too many requests\n", status=status, headers={"Retry-After": str(retry_after)},
                        mimetype="text/plain")
    return Response("Internal server error\n", status=int(fault.params.get("status", 500)), mimetype="text/plain")
