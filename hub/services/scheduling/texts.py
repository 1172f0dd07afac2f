"""Titles and descriptions with `{placeholder}`s: checked when a template or request is saved,
filled in when an interview is created."""
from __future__ import annotations

import string
from collections.abc import Mapping

PLACEHOLDERS = ("candidate_name", "candidate_email", "organizer_name", "join_url", "reschedule_url", "cancel_url")


def unknown_placeholders(text: str | None) -> list[str]:
    """Names inside `{…}` that are not placeholders; a malformed brace is reported as itself."""
    if not text:
        return []
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:  # a lone "{" or "}"
        return [str(exc)]
    return [n for n in names if n not in PLACEHOLDERS]


def render(text: str | None, values: Mapping[str, str]) -> str:
    if not text:
        return ""
    return text.format_map({name: values.get(name, "") for name in PLACEHOLDERS})


def uses(text: str | None, name: str) -> bool:
    return bool(text) and "{" + name + "}" in text  # type: ignore[operator]
