"""A new user's first run, as the README tells it: `hub demo`, connect alice, read her busy time
tomorrow, run `hub doctor` and `hub keys create` next to it, restart the demo. Each command is
a real subprocess in a fresh folder, on ports other than the defaults."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from tests.e2e.support import Api, connect, free_port_pair


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return env


def hub_cli(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hub.cli", *args], check=False, cwd=folder, env=clean_env(),
                          capture_output=True, text=True, timeout=120)


class Demo:
    def __init__(self, folder: Path, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "hub.cli", "demo", "--port", str(port)], cwd=folder,
                                     env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.key = ""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:  # the key line comes before the server starts serving
            if line.startswith("API key"):
                self.key = line.split()[2]
                break
        assert self.key, "hub demo printed no API key"
        self.api = Api(self.url, self.key)
        # The hub users exist from the hub's first answer (the README's first request works at
        # once); the sandbox is built and seeded after it serves, the CalDAV account last.
        assert self.api.get("/v1/users/carol").status_code == 200
        sandbox = f"http://127.0.0.1:{port + 1}/_control/events"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                seeded = requests.get(sandbox, params={"provider": "caldav", "email": "dave@demo.example"}, timeout=30)
                if seeded.status_code == 200 and seeded.json():
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.05)
        raise AssertionError("hub demo did not seed its sandbox")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def folder(tmp_path):
    return tmp_path


def tomorrow_window() -> dict[str, str]:
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return {"start": day.strftime("%Y-%m-%dT%H:%M:%SZ"), "end": (day + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}


def alice_busy(demo: Demo) -> dict:
    # Live: read from the sandbox with alice's grant, never from the busy cache (which the sync
    # after connecting may or may not have filled by now): the restart test is about the grant.
    r = demo.api.post("/v1/freebusy", json={"users": ["alice"], "consistency": "live", **tomorrow_window()})
    assert r.status_code == 200, r.text
    return r.json()["users"]["alice"]


def test_demo_restart_keeps_connections_key_and_busy_blocks(folder):
    port = free_port_pair()
    demo = Demo(folder, port)
    try:
        assert connect(demo.api, "alice", "google", "alice@demo.example").status == "connected"
        first = alice_busy(demo)
        assert first["status"] == "ok" and len(first["busy"]) == 2, first  # the README's example prints blocks
    finally:
        demo.stop()
    again = Demo(folder, port)
    try:
        assert again.key == demo.key  # the same API key after a restart
        after = alice_busy(again)
        # The grant survived, the calendar kept its blocks (not doubled); only the read's time moved.
        assert after.pop("fresh_as_of") >= first.pop("fresh_as_of") and after == first
        conns = again.api.get("/v1/users/alice/connections").json()["connections"]
        assert [c["status"] for c in conns] == ["active"]
    finally:
        again.stop()


def test_commands_next_to_a_demo_use_its_database_and_ports(folder):
    port = free_port_pair()  # not 8000/8001: doctor must find the sandbox where the demo put it
    demo = Demo(folder, port)
    try:
        assert connect(demo.api, "alice", "google", "alice@demo.example").status == "connected"
        created = hub_cli(folder, "keys", "create", "--tenant", "acme")
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip()
        assert "instance" in created.stderr  # it says which database it used
        assert requests.get(f"{demo.url}/v1/users/nobody", headers={"Authorization": f"Bearer {key}"},
                            timeout=10).status_code == 404  # the demo knows the key: not 401
        assert not (folder / "hub.sqlite3").exists()

        doctor = hub_cli(folder, "doctor", "alice", "--json")
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
        report = json.loads(doctor.stdout)  # nothing but the JSON on stdout
        assert report["healthy"] is True
        conns = demo.api.get("/v1/users/alice/connections").json()["connections"]
        assert [(c["status"], c["last_error"]) for c in conns] == [("active", None)]
    finally:
        demo.stop()
