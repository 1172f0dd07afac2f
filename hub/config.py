"""Configuration: one frozen object built from `HUB_*` environment variables (or a dict in tests).

Every setting is documented in the README. Nothing reads the environment at import time;
`Settings.from_env()` is called by the composition root (`create_app`, the CLI).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

SQLITE_DEFAULT = "sqlite:///hub.sqlite3"


@dataclass(frozen=True)
class OAuthEndpoints:
    authorize_url: str
    token_url: str
    revoke_url: str | None
    jwks_url: str | None
    api_base: str
    client_id: str
    client_secret: str


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
    google_client_id: str = ""
    google_client_secret: str = ""
    # Google apps in "testing" publishing status lose refresh tokens after 7 days.
    google_app_status: str = "production"
    microsoft_client_id: str = ""
    microsoft_client_secret: str = ""
    microsoft_tenant: str = "common"
    zoom_client_id: str = ""
    zoom_client_secret: str = ""
    zoom_webhook_secret: str = ""
    # Refresh this many seconds before the access token expires.
    refresh_margin_seconds: int = 300
    provider_timeout_seconds: float = 20.0
    provider_concurrency: int = 32
    connect_link_ttl_seconds: int = 900
    idempotency_ttl_hours: int = 48
    auto_migrate: bool = False
    # Deliver outbound webhooks from a background thread of this process. Safe in every
    # process on PostgreSQL (rows are claimed with SKIP LOCKED); turn off where another
    # process (or a test calling DeliveryWorker.deliver_due) does the delivering.
    webhook_worker: bool = True
    # Connect links inside connection.needs_reauth webhooks: they must outlive the ~3 days
    # of delivery retries plus the time a person takes to act on the email.
    webhook_link_ttl_hours: int = 168
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
    # Redis URL for the counters; unset: HUB_BROKER_URL if set, else this process's memory.
    rate_limit_storage_url: str = ""
    rate_limit_key_prefix: str = "hub"
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            raw = env.get("HUB_" + f.name.upper())
            if raw is None:
                continue
            values[f.name] = _coerce(f.type, raw)
        values.update(overrides)
        return cls(**values)

    def with_overrides(self, **overrides: Any) -> "Settings":
        return replace(self, **overrides)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def google(self) -> OAuthEndpoints:
        sb = self.sandbox_url.rstrip("/")
        if sb:
            return OAuthEndpoints(
                authorize_url=f"{sb}/google/o/oauth2/v2/auth",
                token_url=f"{sb}/google/token",
                revoke_url=f"{sb}/google/revoke",
                jwks_url=f"{sb}/google/oauth2/v3/certs",
                api_base=f"{sb}/google/calendar/v3/",
                client_id=self.google_client_id or "sandbox-google-client",
                client_secret=self.google_client_secret or "sandbox-google-secret",
            )
        return OAuthEndpoints(
            authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
            token_url="https://oauth2.googleapis.com/token",
            revoke_url="https://oauth2.googleapis.com/revoke",
            jwks_url="https://www.googleapis.com/oauth2/v3/certs",
            api_base="https://www.googleapis.com/calendar/v3/",
            client_id=self.google_client_id,
            client_secret=self.google_client_secret,
        )

    def microsoft(self) -> OAuthEndpoints:
        """The identity platform v2.0 for `microsoft_tenant` and Graph v1.0. With a sandbox, the
        login host is the sandbox's `/microsoft` (oauth/microsoft.py rewrites msal's https
        authority there) and the default client is the sandbox's own."""
        sb = self.sandbox_url.rstrip("/")
        tenant = self.microsoft_tenant or "common"
        login = f"{sb}/microsoft" if sb else "https://login.microsoftonline.com"
        return OAuthEndpoints(
            authorize_url=f"{login}/{tenant}/oauth2/v2.0/authorize",
            token_url=f"{login}/{tenant}/oauth2/v2.0/token",
            revoke_url=None,  # v2.0 has no token revocation endpoint
            jwks_url=f"{login}/{tenant}/discovery/v2.0/keys",
            api_base=f"{sb}/microsoft/v1.0" if sb else "https://graph.microsoft.com/v1.0",
            client_id=self.microsoft_client_id or ("sandbox-microsoft-client" if sb else ""),
            client_secret=self.microsoft_client_secret or ("sandbox-microsoft-secret" if sb else ""),
        )

    def zoom(self) -> OAuthEndpoints:
        sb = self.sandbox_url.rstrip("/")
        if sb:
            return OAuthEndpoints(
                authorize_url=f"{sb}/zoom/oauth/authorize",
                token_url=f"{sb}/zoom/oauth/token",
                revoke_url=f"{sb}/zoom/oauth/revoke",
                jwks_url=None,  # Zoom has no id_token: identity comes from /v2/users/me
                api_base=f"{sb}/zoom/v2",
                client_id=self.zoom_client_id or "sandbox-zoom-client",
                client_secret=self.zoom_client_secret or "sandbox-zoom-secret",
            )
        return OAuthEndpoints(
            authorize_url="https://zoom.us/oauth/authorize",
            token_url="https://zoom.us/oauth/token",
            revoke_url="https://zoom.us/oauth/revoke",
            jwks_url=None,
            api_base="https://api.zoom.us/v2",
            client_id=self.zoom_client_id,
            client_secret=self.zoom_client_secret,
        )


def _coerce(type_name: Any, raw: str) -> Any:
    kind = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", "str")
    if kind == "bool":
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    return raw
