"""What a starting hub does not load: libraries its start never uses, imported on first use
instead (bench/cold_start.py measures what that saves). Each case runs in a fresh interpreter,
since this one has imported everything already."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Imported on first use: OAuth flows (authlib, joserfc), migrations on a non-empty database
# (alembic), the first log event (structlog, which pulls rich), the sandbox (radicale,
# icalendar), the Microsoft SDK (its warm-up, after the first request), PostgreSQL's dialect,
# HTTP clients (requests and its urllib3: a webhook delivery, the demo's seeding, a provider's
# call; zoomus: Zoom's calls, not its webhook receiver), the sandbox's emulators (the demo
# binds the sandbox's port at start and builds them after the hub serves), diagnostics (support's
# requests), the scheduling service (its routes' first use: hub/wiring.py).
NOT_AT_START = ("authlib", "joserfc", "alembic", "structlog", "rich", "radicale", "icalendar", "msgraph",
                "sqlalchemy.dialects.postgresql", "requests", "urllib3", "zoomus", "providers.emulator_kit",
                "hub.services.diagnostics", "hub.services.scheduling.offers", "hub.services.scheduling.candidates")


def run(code: str, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    return done


def test_a_hub_starts_and_answers_readyz_without_loading_what_it_does_not_use(tmp_path):
    out = run("""
        import json, sys
        import hub.cli, hub.demo, hub.demo_sandbox  # what `hub demo` imports before serving
        from hub.app import create_app
        from hub.instance import DemoInstance
        app = create_app(DemoInstance().settings("127.0.0.1", 8000))  # a fresh SQLite: created, stamped
        assert app.test_client().get("/readyz").status_code == 200
        print(json.dumps(sorted(sys.modules)))
    """, tmp_path).stdout
    loaded = set(json.loads(out))
    assert "hub.api.v1" in loaded  # the app really is built
    assert [name for name in NOT_AT_START if name in loaded] == []


def test_the_first_event_configures_structlog_and_is_redacted(tmp_path):
    done = run("""
        import sys
        from hub.logs import configure, get_logger
        log = get_logger("hub.test")  # made at import, as every module's logger is
        configure("info", json_output=True)
        assert "structlog" not in sys.modules
        log.info("connected", access_token="ya29.secret", detail="sent Bearer abc.def")
        log.debug("below the level")
    """, tmp_path)
    event = json.loads(done.stderr)  # one JSON line on stderr: the debug event was filtered
    assert event["event"] == "connected" and event["level"] == "info"
    assert event["access_token"] == "[redacted]" and event["detail"] == "sent Bearer [redacted]"
