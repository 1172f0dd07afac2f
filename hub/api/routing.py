"""`operation`: one decorator that validates a JSON body with a pydantic model and records the
route's contract for /openapi.json — so the document cannot drift from what is enforced."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import BaseModel, ValidationError

from hub.api.context import current_request
from hub.problems import Problem, validation_problem


@dataclass(frozen=True)
class Operation:
    summary: str
    tags: tuple[str, ...]
    body: type[BaseModel] | None = None
    responses: dict[int, type[BaseModel] | None] = field(default_factory=dict)
    problems: tuple[int, ...] = ()
    auth: bool = True
    description: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


def operation(summary: str, *, tags: tuple[str, ...] | list[str], body: type[BaseModel] | None = None,
              responses: dict[int, type[BaseModel] | None] | None = None,
              problems: tuple[int, ...] = (), auth: bool = True, description: str | None = None,
              headers: tuple[tuple[str, str], ...] = ()) -> Callable:
    op = Operation(summary, tuple(tags), body, responses or {200: None}, problems, auth,
                   description, headers)

    def wrap(view: Callable) -> Callable:
        @functools.wraps(view)
        def inner(*args: Any, **kwargs: Any):
            if op.body is not None:
                kwargs["body"] = parse_body(op.body)
            return view(*args, **kwargs)

        inner.openapi = op  # type: ignore[attr-defined]
        return inner

    return wrap


def parse_body(model: type[BaseModel]) -> BaseModel:
    req = current_request()  # not the proxy at each use
    raw = req.get_data(cache=True)
    if not raw.strip():
        data: Any = {}
    else:
        if req.mimetype not in ("application/json", "") and not req.mimetype.endswith("+json"):
            raise Problem(415, "unsupported_media_type", "Send JSON",
                          f"Content-Type {req.mimetype} is not accepted; use application/json.")
        if req.is_json:
            # The common case, a valid body, validated from its bytes by pydantic's own JSON
            # parser: no Python dict and list built first (a twentieth of a cached free/busy).
            # Anything it refuses goes the way below, which says what is wrong as it always has
            # (malformed JSON 400, not an object 422, the validation errors).
            try:
                return model.model_validate_json(raw)
            except ValidationError:
                pass
        data = req.get_json(silent=True)
        if data is None:
            raise Problem(400, "malformed_json", "The body is not valid JSON",
                          "The request body could not be parsed as JSON; nothing was changed.")
    if not isinstance(data, dict):
        raise Problem(422, "validation_failed", "The request is not valid",
                      "The body must be a JSON object.", errors=[{"field": "", "message": "expected an object"}])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_problem(validation_errors(exc)) from None


def validation_errors(exc: ValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors(include_url=False):
        field_path = ""
        for part in err["loc"]:
            field_path += f"[{part}]" if isinstance(part, int) else (f".{part}" if field_path else str(part))
        # pydantic names the model class ("instance of ParticipantIn"): say what is expected instead.
        message = ("expected an object" if err["type"] in ("model_type", "model_attributes_type", "dict_type")
                   else err["msg"].removeprefix("Value error, "))
        out.append({"field": field_path, "message": message})
    return out
