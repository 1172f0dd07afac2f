"""The providers this hub has, described from the registry: what `hub providers` prints and the
README's provider table holds (a test keeps the two equal)."""
from __future__ import annotations

from providers import registry
from providers.base import OAuthConnect, ProviderSpec


def connect_method(spec: ProviderSpec) -> str:
    return "OAuth consent" if isinstance(spec.connect, OAuthConnect) else "credential form"


def markdown() -> str:
    lines = ["| provider | title | capabilities | connect | settings |", "|---|---|---|---|---|"]
    for spec in registry.SPECS:
        caps = ", ".join(sorted(c.value for c in spec.capabilities))
        settings = "<br>".join(
            f"`{s.env_name(spec.name)}`" + (f" (default `{s.default}`)" if s.default else "") + f": {s.help}"
            for s in spec.settings) or "—"
        lines.append(f"| `{spec.name}` | {spec.title} | {caps} | {connect_method(spec)} | {settings} |")
    return "\n".join(lines) + "\n"
