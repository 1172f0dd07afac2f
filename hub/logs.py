"""Structured logs that cannot carry secrets.

Every event passes through `redact`: values under keys that name a secret are replaced, and
bearer tokens or OAuth codes inside strings are masked — so a careless `log.info(..., body=…)`
still leaks nothing.

structlog is imported on the first event, not with this module: it imports `rich` whenever that
is installed, ~0.1 s of every start of a process that may log nothing while it starts.
"""
from __future__ import annotations

import logging
import re
import sys
import threading
from typing import Any, Mapping, MutableMapping

SECRET_KEYS = re.compile(r"(token|secret|password|authorization|code_verifier|^code$|api_key|cookie|key_hash|assertion"
                         r"|^state$|nonce|^link$|_link$|signature)", re.IGNORECASE)
SECRET_VALUES = [
    (re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer [redacted]"),
    (re.compile(r"(?i)((?:access_token|refresh_token|id_token|code|client_secret|token|state|nonce|code_verifier)=)"
                r"[^&\s\"']+"), r"\1[redacted]"),
    (re.compile(r"hub_(?:live|test)_[A-Za-z0-9_-]+"), "hub_[redacted]"),
    # Connect, settings and booking links carry their credential in the path.
    (re.compile(r"(/connect/|/settings/enter/|/book/)[A-Za-z0-9_-]{16,}"), r"\1[redacted]"),
    (re.compile(r"whsec_[A-Za-z0-9+/=]+"), "whsec_[redacted]"),
]


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        for pattern, repl in SECRET_VALUES:
            value = pattern.sub(repl, value)
        return value
    if isinstance(value, dict):
        return {k: ("[redacted]" if SECRET_KEYS.search(str(k)) else _scrub(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub(v) for v in value)
    return value


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    return _scrub(dict(event))


def configure(level: str = "INFO",  # pragma: no mutate (any unknown level name means INFO too)
              json_output: bool = True) -> None:
    """Called by the composition root only."""
    # no mutate: None or leaving either out means the same to basicConfig (message only, stderr).
    logging.basicConfig(format="%(message)s", stream=sys.stderr,  # pragma: no mutate
                        level=getattr(logging, level.upper(), logging.INFO))
    # Libraries' chatter at INFO (alembic's plugin set-up, Radicale's storage notices) is not
    # the hub's news; migrations applied ("Running upgrade …") still are.
    for name in ("alembic", "radicale"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.migration").setLevel(logging.INFO)
    _pending[:] = [(level, json_output)]
    if "structlog" in sys.modules:  # already paid for (and maybe in use, as by capture_logs): now
        _configure_structlog()


_pending: list[tuple[str, bool]] = []  # the last configure() that structlog has not seen yet
# Held until structlog is configured: no thread's first event may go out unredacted meanwhile.
_configuring = threading.Lock()


def _configure_structlog() -> None:
    with _configuring:
        if _pending:
            _apply(*_pending.pop())


def _apply(level: str, json_output: bool) -> None:
    import structlog

    renderer = structlog.processors.JSONRenderer() if json_output else _plain_text()
    # no mutate: utc=True is TimeStamper's default and "ISO" matches in any case.
    stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)  # pragma: no mutate
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
                    stamp, redact, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper(), logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,  # pragma: no mutate (None or the default are False too)
    )


def _plain_text() -> Any:
    import structlog

    return structlog.dev.ConsoleRenderer(colors=False)  # pragma: no mutate (colors=None is as falsy)


def get_logger(name: str) -> Any:
    return _Logger(name)  # pragma: no mutate (the name is for readers: see __getattr__)


class _Logger:
    """A module's logger: structlog's, made (and configured) on the first event."""

    def __init__(self, name: str) -> None:
        self._name = name  # pragma: no mutate (for readers: see __getattr__)
        self._logger: Any = None

    def __getattr__(self, method: str) -> Any:
        # copy, pickle: nothing of structlog's. No mutate: mutmut's trampoline answers dunder
        # lookups itself, so its mutants here cannot be observed; applied by hand, "XX__XX"
        # fails test_copying_or_inspecting_a_logger_configures_nothing.
        if method.startswith("__"):  # pragma: no mutate
            raise AttributeError(method)  # pragma: no mutate (the message only)
        if self._logger is None:
            import structlog

            _configure_structlog()
            # The name is for readers: PrintLoggerFactory ignores it, so mutating it changes nothing.
            self._logger = structlog.get_logger(self._name)  # pragma: no mutate
        return getattr(self._logger, method)
