"""`explain`: a provider error body a support person pasted (from a log, an email, another
tool) → kind, cause, plain words and the fix. Each provider's own `errors.py` tables classify
it, through its diagnostics module; the words come from hub/services/explanations.py.

An unrecognised body still answers: kind `unknown`, and `recognised` says what was understood
(which shape, which codes), so the person knows what to look for next.
"""
from __future__ import annotations

from typing import Any

from hub.services import explanations
from hub.services.diagnostics.providers import title
from providers import registry
from providers.base import ErrorKind


class UnknownProvider(LookupError):
    """No diagnostics module for that provider name."""


def explain_error(provider: str, http_status: int | None, body: Any) -> dict[str, Any]:
    spec = registry.PROVIDERS.get(provider)
    if spec is None or spec.diagnostics is None:
        raise UnknownProvider(provider)
    module = spec.diagnostics()
    result = module.explain(http_status, body)
    err = result.error
    if err is None:
        words = explanations.explain(None, ErrorKind.UNKNOWN.value, title(provider))
        return {"kind": ErrorKind.UNKNOWN.value, "cause": None, "summary": words.summary, "fix": words.as_fix(),
                "provider_code": None, "http_status": http_status, "detail": result.note,
                "recognised": dict(result.recognised)}
    # `conflict` (a client-chosen id exists) is not one of API.md's kinds: to a person reading a
    # pasted error it is a request the provider refused.
    kind = ErrorKind.INVALID_REQUEST.value if err.kind is ErrorKind.CONFLICT else err.kind.value
    words = explanations.explain(err.cause, kind, title(provider))
    return {"kind": kind, "cause": err.cause, "summary": words.summary, "fix": words.as_fix(),
            "provider_code": err.provider_code, "http_status": err.http_status if err.http_status is not None else http_status,
            "retry_after": err.retry_after, "detail": result.note, "recognised": dict(result.recognised)}
