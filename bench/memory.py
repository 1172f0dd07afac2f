"""Memory: where a hub worker's RSS goes, and whether it grows once warm.

Part 1, attribution (one fresh interpreter, steps in the order a worker takes them; RSS after
each step, so each line is what that step adds):
  python + a bare Flask app (the baseline), `import hub.app`, `create_app()` (SQLite, schema
  at head), the Microsoft warm-up (msgraph-sdk's model modules, started by the first request),
  a Google Calendar adapter's first free/busy call (discovery document parsed, resource built),
  Google Meet's discovery document (attendance). Module counts say what was imported.

Part 2, growth (gunicorn exactly as the Procfile runs it, a sandbox in its own process, two
connected users, Google and Microsoft): RSS per worker after start, after warm-up (100
requests), after 1,000 and after 10,000 mixed requests (free/busy on each provider,
availability across both, user reads), sent over 4 connections.

Run: python -m bench.memory [requests]   (part 2 takes a few minutes; 0 skips it)
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

STEPS = r'''
import gc, json, sys, tempfile
from pathlib import Path
def rss():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
out = []
def mark(label):
    gc.collect()
    out.append((label, rss(), len(sys.modules), sum(1 for m in sys.modules if m.startswith("msgraph"))))
mark("python")
from flask import Flask
Flask("bare").add_url_rule("/healthz", "h", lambda: "ok")
mark("bare Flask app")
import hub.app
mark("import hub.app")
from oauth.vault import TokenVault
tmp = tempfile.mkdtemp()
import subprocess
# Migrated by another process, as a worker finds it: at head, so alembic is not imported here.
subprocess.run([sys.executable, "-c", "import sys; from hub.storage.db import Database; "
                f"Database('sqlite:///{tmp}/m.sqlite3').upgrade()"], check=True, capture_output=True)
app = hub.app.create_app({"database_url": f"sqlite:///{tmp}/m.sqlite3", "auto_migrate": True,
    "log_level": "WARNING", "encryption_keys": TokenVault.generate_key_spec("m"), "webhook_worker": False,
    "sandbox_url": "http://127.0.0.1:9"})
mark("create_app()")
hub_ = app.extensions["hub"]
from providers import registry
for spec in registry.SPECS:
    if spec.name == "microsoft" and spec.warm_up is not None:
        spec.warm_up(hub_.calendar("microsoft"))
mark("Microsoft warm-up (msgraph models)")
from datetime import datetime, timezone
google = hub_.calendar("google")
try:
    google.free_busy("token", ["a@example.com"], datetime(2026, 3, 2, tzinfo=timezone.utc),
                     datetime(2026, 3, 3, tzinfo=timezone.utc))
except Exception:
    pass  # nothing listens on port 9: the resource is built all the same
mark("Google Calendar first call (discovery doc + resource)")
import providers.google.attendance as ga
from googleapiclient.discovery import build_from_document
import httplib2
build_from_document(ga._DISCOVERY.read_text(), http=httplib2.Http())
mark("Google Meet discovery document")
print(json.dumps(out))
'''


def attribution() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-c", STEPS], capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    if done.returncode:
        print(done.stderr[-2000:])
        return
    rows = json.loads(done.stdout.strip().splitlines()[-1])
    base = rows[1][1]
    print("part 1: RSS by step, one fresh interpreter (MB)")
    print(f"{'step':52} {'RSS':>7} {'added':>7} {'over bare':>9} {'modules':>8} {'msgraph':>8}")
    previous = rows[0][1]
    for label, mb, modules, msgraph in rows:
        print(f"{label:52} {mb:7.1f} {mb - previous:7.1f} {mb - base:9.1f} {modules:8d} {msgraph:8d}")
        previous = mb


def growth(total: int) -> None:
    import requests

    from bench.common import sandbox_process
    from bench.gunicorn_stack import Gunicorn, free_port
    from hub.services.directory import create_api_key
    from hub.storage.db import Database
    from oauth.vault import TokenVault
    from tests.e2e.support import Api, Sandbox, connect

    tmp = tempfile.mkdtemp()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["PYTHONPATH"] = str(ROOT)
    with sandbox_process() as sandbox_url:
        db_url = f"sqlite:///{tmp}/memory.sqlite3"
        Database(db_url).upgrade()
        port = free_port()
        hub_env = {**env, "HUB_DATABASE_URL": db_url, "HUB_SANDBOX_URL": sandbox_url, "HUB_LOG_LEVEL": "WARNING",
                   "HUB_ENCRYPTION_KEYS": TokenVault.generate_key_spec("bench"), "HUB_WEBHOOK_WORKER": "false",
                   "HUB_PUBLIC_URL": f"http://127.0.0.1:{port}",
                   # The API key's budget would turn most of these requests into 429s.
                   "HUB_RATE_LIMIT_API": "1000000/minute", "HUB_RATE_LIMIT_CONNECT_LINKS": "1000000/minute"}
        _, key = create_api_key(Database(db_url), "memory")
        hub = Gunicorn("hub.wsgi:create()", hub_env, tmp, port)
        marks = {"after start": hub.rss_mb()}
        try:
            api, sandbox = Api(hub.url, key), Sandbox(sandbox_url)
            for user, provider in (("g", "google"), ("m", "microsoft")):
                email = f"{user}.{uuid.uuid4().hex[:6]}@example.com"
                sandbox.account(provider, email)
                sandbox.busy(provider, email, "2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z")
                api.put(f"/v1/users/{user}", json={"email": email})
                assert connect(api, user, provider, email).status == "connected"
            window = {"start": "2026-03-02T00:00:00Z", "end": "2026-03-03T00:00:00Z"}
            mix = [
                ("POST", "/v1/freebusy", {"users": ["g"], **window}),
                ("POST", "/v1/freebusy", {"users": ["m"], **window}),
                ("POST", "/v1/availability", {**window, "duration_minutes": 30,
                                              "participants": [{"user_id": "g"}, {"user_id": "m"}]}),
                ("GET", "/v1/users/g", None),
            ]
            sent = 0
            lock = threading.Lock()
            failures: list[int] = []

            def send(n: int) -> None:
                nonlocal sent
                session = requests.Session()
                session.headers["Authorization"] = f"Bearer {key}"
                for i in range(n):
                    method, path, body = mix[i % len(mix)]
                    status = session.request(method, hub.url + path, json=body, timeout=60).status_code
                    if status >= 400:
                        failures.append(status)
                with lock:
                    sent += n

            def run(n: int, connections: int = 4) -> None:
                threads = [threading.Thread(target=send, args=(n // connections,)) for _ in range(connections)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()

            run(100)
            marks["after warm-up (100)"] = hub.rss_mb()
            for target in (1000, total):
                if target > sent:
                    run(target - sent)
                    marks[f"after {target:,}"] = hub.rss_mb()
        finally:
            hub.stop()
    print("\npart 2: RSS per gunicorn worker (Procfile flags), MB")
    for label, values in marks.items():
        print(f"  {label:24} " + "  ".join(f"{v:6.1f}" for v in values))
    # Warm = after 1,000: each worker has then imported what its first Microsoft call needs.
    warm = marks.get("after 1,000", marks["after warm-up (100)"])
    last = list(marks.values())[-1]
    grown = [b - a for a, b in zip(warm, last)]
    print(f"  growth from 1,000 to {total:,}: {' '.join(f'{g:+.1f}' for g in grown)} MB per worker"
          f" ({len(failures)} failed requests{': ' + str(sorted(set(failures))) if failures else ''})")


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    attribution()
    if total:
        growth(total)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
