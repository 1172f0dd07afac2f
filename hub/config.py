"""Configuration: one frozen object built from `HUB_*` environment variables (or a dict in tests).

Every setting is documented in the README. Nothing reads the environment at import time;
`Settings.from_env()` is called by the composition root (`create_app`, the CLI).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

from providers import registry
from providers.base import ProviderConfig

SQLITE_DEFAULT = "sqlite:///hub.sqlite3"


@dataclass(frozen=True)
class Settings:
    database_url: str = SQLITE_DEFAULT
    # Signs settings-page sessions and links. Generated per process when unset (demo only).
    secret_key: str = ""
    # "kid:base64key,kid2:base64key" — the first key encrypts, all decrypt (rotation).
    encryption_keys: str = ""
    # Where browsers reach the hub (connect links and OAuth redirect URIs are built from it).
    public_url: str = "http://127.0.0.1:8000"
    # When set, every provider endpoint points at the sandbox served there.
    sandbox_url: str = ""
    log_level: str = "INFO"
    log_json: bool = True
    # Refresh this many seconds before the access token expires.
    refresh_margin_seconds: int = 300
    provider_timeout_seconds: float = 20.0
    # Provider calls in flight per process: 100 is the API's cap on participants per request, so
    # the widest availability makes one round trip (threads are started only when needed).
    provider_concurrency: int = 100
    # A participant's synced busy time (the busy cache) answers free/busy and availability only
    # when its last sync finished at most this long ago; older, it is read live. 0: always live.
    cache_max_age_seconds: int = 300
    # How long a process trusts an API key it has checked (hub/services/api_keys.py): a revoked
    # key stops working at most this long after the revocation. 0: checked on every request.
    api_key_cache_seconds: float = 5.0
    connect_link_ttl_seconds: int = 900
    idempotency_ttl_hours: int = 48
    auto_migrate: bool = False
    # Without a broker: run background jobs (webhook delivery, sweeps) on this process's
    # threads. Safe in every process on PostgreSQL (jobs claim their rows); turn off where
    # another process (or a test calling DeliveryWorker.deliver_due) does the work.
    webhook_worker: bool = True
    # Run attendance deadlines (`attendance.*` webhooks) as the periodic job `attendance.evaluate`
    # (hub/jobs/catalog.py); off where a test drives them on its own clock.
    attendance_timer: bool = True
    # redis://host:port/db — background jobs go to Celery workers through it (hub/jobs); web
    # processes then only enqueue. Unset: jobs run in-process.
    broker_url: str = ""
    # Connect links inside connection.needs_reauth webhooks: they must outlive the ~3 days
    # of delivery retries plus the time a person takes to act on the email.
    webhook_link_ttl_hours: int = 168
    # Each provider's own `HUB_<PROVIDER>_<KEY>` settings, as its spec declares them
    # (providers/<name>/__init__.py): {"google": {"client_id": …}, …}.
    providers: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # Webhook URLs on loopback, private, link-local or metadata addresses are refused at
    # registration and at delivery (SSRF). True only for local development (`hub demo`).
    webhook_allow_private_urls: bool = False
    # When set, GET /metrics asks for `Authorization: Bearer <this>`.
    metrics_token: str = ""
    # Rate limits (hub/rate_limits.py), in Flask-Limiter's notation ("600/minute", "10/second").
    rate_limit_enabled: bool = True
    rate_limit_api: str = "600/minute"  # per API key, every /v1 call
    rate_limit_failed_auth: str = "20/minute"  # per client address: bad keys, forged links and states
    rate_limit_connect_links: str = "60/minute"  # per API key
    rate_limit_booking: str = "120/minute"  # per candidate booking link (/book/<token>)
    # Redis URL for the counters; unset: HUB_BROKER_URL if set, else this process's memory.
    rate_limit_storage_url: str = ""
    rate_limit_key_prefix: str = "hub"
    rate_limit_push: str = "6000/minute"  # per sending address, /webhooks/<provider> (calendar pushes)
    # Push channels and incremental sync (hub/services/sync): off leaves every read live.
    sync_enabled: bool = True
    # The rolling window the busy cache covers, in whole UTC days around today.
    sync_window_days_behind: int = 1
    sync_window_days_ahead: int = 62
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Read `HUB_*` variables. `overrides` take the field names, and `<provider>_<key>` for a
        provider's own settings (`zoom_webhook_secret="…"`)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in ("extra", "providers"):
                continue
            raw = env.get("HUB_" + f.name.upper())
            if raw is None:
                continue
            values[f.name] = _coerce(f.type, raw)
        provider_values: dict[str, dict[str, str]] = {}
        for spec in registry.SPECS:
            own = provider_values.setdefault(spec.name, {})
            for setting in spec.settings:
                raw = env.get(setting.env_name(spec.name))
                own[setting.key] = setting.default if raw is None else raw
        field_names = {f.name for f in fields(cls)}
        for name in list(overrides):
            if name in field_names:
                continue
            provider, _, key = name.partition("_")
            found = registry.PROVIDERS.get(provider)
            if found is None or key not in {s.key for s in found.settings}:
                raise TypeError(f"unknown setting {name!r}")
            provider_values[provider][key] = str(overrides.pop(name))
        for provider, given in dict(overrides.pop("providers", None) or {}).items():
            provider_values.setdefault(provider, {}).update(given)
        values.update(overrides)
        return cls(providers=provider_values, **values)

    def with_overrides(self, **overrides: Any) -> "Settings":
        return replace(self, **overrides)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def provider(self, name: str) -> ProviderConfig:
        """What provider `name`'s factories receive: its own settings and where it is reached."""
        return ProviderConfig(name, dict(self.providers.get(name, {})), sandbox_url=self.sandbox_url,
                              public_url=self.public_url, timeout=self.provider_timeout_seconds)


def _coerce(type_name: Any, raw: str) -> Any:
    kind = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", "str")
    if kind == "bool":
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    return raw
