import json
import logging
import sys
from datetime import datetime, timedelta

import pytest
import structlog

from hub.logs import configure, get_logger, redact


def test_secret_keys_and_values_are_masked():
    event = {"event": "x", "access_token": "ya29.abc", "headers": {"Authorization": "Bearer ya29.abc"},
             "url": "https://h/cb?code=4/0AX&state=s", "note": "sent Bearer abc.def to google",
             "nested": [{"refresh_token": "1//r"}], "key": "hub_live_abcdef"}
    out = redact(None, "info", event)
    flat = repr(out)
    for secret in ("ya29.abc", "4/0AX", "abc.def", "1//r", "hub_live_abcdef"):
        assert secret not in flat
    assert out["event"] == "x" and out["url"] == "https://h/cb?code=[redacted]&state=[redacted]"


# Every key under which the hub logs (or might log) a credential; a value under any of them,
# at any depth, never reaches the output.
SECRET_BEARING_KEYS = ["access_token", "refresh_token", "id_token", "token", "client_secret", "secret",
                       "webhook_secret", "password", "app_password", "Authorization", "code_verifier", "code",
                       "api_key", "cookie", "Set-Cookie", "key_hash", "client_assertion", "state", "nonce",
                       "link", "connect_link", "settings_link", "x-zm-signature", "webhook-signature"]


def test_every_secret_bearing_key_is_redacted():
    for key in SECRET_BEARING_KEYS:
        value = f"SECRET-{key}-VALUE"
        out = repr(redact(None, "info", {"event": "e", key: value, "nested": {"deeper": [{key: value}]}}))
        assert value not in out, key


SECRET_BEARING_VALUES = [
    ("GET /oauth/callback/google?state=STATEVALUE&code=CODEVALUE", ["STATEVALUE", "CODEVALUE"]),
    ("opened http://127.0.0.1:8000/connect/AbCdEfGhIjKlMnOpQrStUv123", ["AbCdEfGhIjKlMnOpQrStUv123"]),
    ("GET /settings/enter/ZyXwVuTsRqPoNmLkJi987 HTTP/1.1", ["ZyXwVuTsRqPoNmLkJi987"]),
    ("secret whsec_c2VjcmV0IGJ5dGVz", ["c2VjcmV0IGJ5dGVz"]),
    ("nonce=NONCEVALUE&code_verifier=VERIFIERVALUE", ["NONCEVALUE", "VERIFIERVALUE"]),
]


def test_secrets_inside_values_are_masked():
    for text, secrets in SECRET_BEARING_VALUES:
        out = redact(None, "info", {"event": "e", "detail": text})["detail"]
        for secret in secrets:
            assert secret not in out, (text, out)


def test_plain_values_survive():
    event = {"event": "connect_finished", "provider": "google", "status": "connected", "connection_id": "con_1",
             "path": "/v1/users/ada"}
    assert redact(None, "info", dict(event)) == event


def test_redacted_values_read_redacted_and_lists_keep_their_shape():
    out = redact(None, "info", {"event": "e", "access_token": "ya29.x", "items": ["plain", "Bearer abc.def"],
                                "pair": ("plain", "token=abc")})
    assert out["access_token"] == "[redacted]"  # what people grep the logs for
    assert out["items"] == ["plain", "Bearer [redacted]"]
    assert out["pair"] == ("plain", "token=[redacted]")


# configure() is what the app and the worker call once; these pin what it sets up: JSON lines on
# stderr with level and UTC timestamp, the redactor in the chain, the level filter, plain-text
# output without colours, and quiet library loggers.
@pytest.fixture
def fresh_logging():
    """configure() changes process-wide logging; put everything back afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    names = ("alembic", "radicale", "alembic.runtime.migration")
    saved_levels = {n: logging.getLogger(n).level for n in names}
    saved_structlog = structlog.get_config()

    def bare() -> logging.Logger:
        root.handlers = []  # basicConfig only acts on a root logger without handlers (pytest adds its own)
        return root

    root.setLevel(logging.NOTSET)
    for n in names:
        logging.getLogger(n).setLevel(logging.NOTSET)
    yield bare
    root.handlers = saved_handlers
    root.setLevel(saved_level)
    for n, level in saved_levels.items():
        logging.getLogger(n).setLevel(level)
    structlog.configure(**saved_structlog)
    structlog.contextvars.clear_contextvars()


def test_configure_writes_redacted_json_lines_with_level_and_utc_time(fresh_logging, capsys):
    root = fresh_logging()
    configure("info", json_output=True)
    structlog.contextvars.bind_contextvars(request_id="req_1")
    log = get_logger("hub.test")
    log.debug("hidden")
    log.info("connect_finished", access_token="ya29.secret", provider="google")
    [line] = capsys.readouterr().err.splitlines()
    record = json.loads(line)
    assert record["event"] == "connect_finished" and record["level"] == "info"
    assert record["access_token"] == "[redacted]" and record["provider"] == "google"
    assert record["request_id"] == "req_1"  # context bound by the request middleware
    assert record["timestamp"].endswith("Z")
    assert datetime.fromisoformat(record["timestamp"]).utcoffset() == timedelta(0)
    [handler] = root.handlers
    assert root.level == logging.INFO
    assert handler.stream is sys.stderr  # stdlib logs go where the structured ones go
    assert handler.format(logging.LogRecord("x", logging.INFO, "f", 1, "just this", None, None)) == "just this"
    assert logging.getLogger("alembic").level == logging.WARNING
    assert logging.getLogger("radicale").level == logging.WARNING
    assert logging.getLogger("alembic.runtime.migration").level == logging.INFO


def test_configure_level_filters_and_an_unknown_level_means_info(fresh_logging, capsys):
    root = fresh_logging()
    configure("warning")
    assert root.level == logging.WARNING
    get_logger("hub.test").info("quiet")
    get_logger("hub.test").warning("loud")
    assert [json.loads(x)["event"] for x in capsys.readouterr().err.splitlines()] == ["loud"]
    fresh_logging()
    configure("chatty")
    assert root.level == logging.INFO
    get_logger("hub.test").debug("quiet")
    get_logger("hub.test").info("heard")
    assert [json.loads(x)["event"] for x in capsys.readouterr().err.splitlines()] == ["heard"]


def test_console_output_is_plain_text_and_loggers_follow_a_later_configure(fresh_logging, capsys):
    log = get_logger("hub.test")  # made before configure, as module-level loggers are
    configure("info", json_output=True)
    log.info("first", password="hunter2")
    configure("info", json_output=False)  # the worker reconfigures after import
    log.info("second", password="hunter2")
    first, second = capsys.readouterr().err.splitlines()
    assert json.loads(first)["event"] == "first"
    assert "second" in second and "\x1b[" not in second and not second.startswith("{")
    assert "hunter2" not in first + second and "[redacted]" in second


def test_copying_or_inspecting_a_logger_configures_nothing(monkeypatch):
    """copy, pickle and introspection ask for dunder attributes: they must not configure
    structlog (a module-level logger is copied with its module's objects)."""
    import copy

    import hub.logs
    configured: list[bool] = []
    monkeypatch.setattr(hub.logs, "_configure_structlog", lambda: configured.append(True))
    log = get_logger("x")
    assert not hasattr(log, "__wrapped__")
    assert type(copy.copy(log)).__name__ == "_Logger"
    assert configured == []
