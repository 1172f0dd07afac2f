"""Which settings a CLI command uses: a configured hub's HUB_*, else the demo's in ./instance."""
from __future__ import annotations

from hub.instance import DemoInstance, command_settings


def test_a_configured_hub_is_never_mistaken_for_the_demo(tmp_path):
    instance = DemoInstance(tmp_path / "instance")
    instance.record_address("127.0.0.1", 18400)
    notes: list[str] = []
    env = {"HUB_DATABASE_URL": "sqlite:////tmp/elsewhere.sqlite3", "HUB_SANDBOX_URL": ""}
    settings = command_settings(notes.append, instance, env)
    assert settings.database_url == "sqlite:////tmp/elsewhere.sqlite3" and notes == []


def test_next_to_a_demo_commands_use_its_database_keys_and_ports(tmp_path):
    instance = DemoInstance(tmp_path / "instance")
    instance.record_address("127.0.0.1", 18400)
    first = instance.settings()
    notes: list[str] = []
    settings = command_settings(notes.append, instance, {})
    assert settings.database_url == f"sqlite:///{(tmp_path / 'instance' / 'demo.sqlite3').resolve()}"
    assert (settings.public_url, settings.sandbox_url) == ("http://127.0.0.1:18400", "http://127.0.0.1:18401")
    assert settings.encryption_keys == first.encryption_keys  # made once, kept
    assert len(notes) == 1 and "18401" in notes[0]
    assert instance.api_key() == instance.api_key() and instance.api_key("given") == "given"
    assert (tmp_path / "instance" / "demo-api-key").stat().st_mode & 0o777 == 0o600


def test_without_a_demo_the_defaults_apply(tmp_path):
    settings = command_settings(lambda _: None, DemoInstance(tmp_path / "instance"), {})
    assert settings.database_url == "sqlite:///hub.sqlite3"
