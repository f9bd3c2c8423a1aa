"""FastAPI's own validation errors (query, path and typed bodies) in the words of the rest of
the API: ``<field>: expected <what>, got <what it was>``, as :mod:`jobs.options` writes them."""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError

from jobs.errors import received

_WHERE = {"query", "path", "body", "header", "cookie"}
_EXPECTED = {
    "missing": "a value",
    "float_parsing": "a number",
    "float_type": "a number",
    "finite_number": "a finite number",
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "string_type": "a string",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a JSON object",
    "model_attributes_type": "a JSON object",
    "json_invalid": "a JSON body",
    "uuid_parsing": "a job id (a UUID)",
    "uuid_type": "a job id (a UUID)",
    "datetime_parsing": "an ISO 8601 time with its offset, e.g. 2031-05-17T09:30:00Z",
    "datetime_from_date_parsing": "an ISO 8601 time with its offset, e.g. 2031-05-17T09:30:00Z",
    "datetime_type": "an ISO 8601 time with its offset, e.g. 2031-05-17T09:30:00Z",
    "timezone_aware": "an ISO 8601 time with its offset (Z or +hh:mm)",
    "extra_forbidden": "no such field",
}
_BOUNDS = {
    "greater_than_equal": ("ge", "at least"),
    "greater_than": ("gt", "above"),
    "less_than_equal": ("le", "at most"),
    "less_than": ("lt", "below"),
}


def validation_message(exc: RequestValidationError) -> str:
    """Every problem of the request, ``; ``-separated, each naming its field."""
    return "; ".join(dict.fromkeys(_problem(error) for error in exc.errors()))


def _problem(error: Any) -> str:
    kind = str(error.get("type", ""))
    loc = [str(part) for part in error.get("loc", ()) if part not in _WHERE]
    field = ".".join(loc) or "body"
    ctx = error.get("ctx") or {}
    if kind in _BOUNDS:
        name, words = _BOUNDS[kind]
        bound = ctx.get(name)
        expected = (
            f"a number {words} {bound:g}"
            if isinstance(bound, float)
            else f"a number {words} {bound}"
        )
    else:
        message = str(error.get("msg", "something else"))
        expected = _EXPECTED.get(kind) or _as_expectation(message)
    got = "nothing" if kind == "missing" else received(error.get("input"))
    return f"{field}: expected {expected}, got {got}"


def _as_expectation(message: str) -> str:
    """Pydantic's "Input should be ..." or "Value error, ..." as what was expected."""
    for prefix in ("Input should be ", "Value error, "):
        message = message.removeprefix(prefix)
    return message[:1].lower() + message[1:]
