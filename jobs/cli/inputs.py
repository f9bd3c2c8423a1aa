"""What the command line reads: ``--param key=value`` pairs, JSON and JSON-lines files, delays
and times. Each refusal is an InvalidJobParams in the client's words: ``<option>: expected
<what>, got <received>``."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jobs.errors import InvalidJobParams, received

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([smhd]?)\s*$")
DURATION_EXPECTED = "seconds (90, 1.5) or a number with s, m, h or d (10m, 2h)"
TIME_EXPECTED = "an ISO 8601 time with its timezone, e.g. 2031-05-17T09:30:00+00:00 or ...Z"


def value_of(text: str) -> Any:
    """A ``--param`` value: JSON when it parses as JSON (``3``, ``true``, ``["a", "b"]``,
    ``{"k": 1}``, ``"007"``), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def params_of(pairs: Iterable[str], json_file: str | None = None) -> dict[str, Any]:
    """A job's parameters: the JSON object in ``json_file`` (``-``: standard input), if any,
    then each ``key=value`` pair over it."""
    params = read_json_object(json_file, "json") if json_file is not None else {}
    given: set[str] = set()
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidJobParams(f"param: expected key=value, got {received(pair)}")
        if key in given:
            raise InvalidJobParams(f"param: expected each key once, got {key!r} twice")
        given.add(key)
        params[key] = value_of(text)
    return params


def _text_of(path: str, option: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidJobParams(
            f"{option}: expected a readable UTF-8 file, got {received(path)} ({reason})"
        ) from None


def read_json_object(path: str, option: str) -> dict[str, Any]:
    """The JSON object in the file at ``path`` (``-``: standard input)."""
    return _json_object(_text_of(path, option), option, f"a JSON object in {path}")


def _json_object(text: str, field: str, expected: str) -> dict[str, Any]:
    """``text`` parsed as a JSON object; else InvalidJobParams naming ``field``."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidJobParams(f"{field}: expected {expected}, got invalid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise InvalidJobParams(f"{field}: expected {expected}, got {received(value)}")
    return value


@dataclass(frozen=True)
class Line:
    """One job of a JSON-lines file: its parameters and idempotency key, and its line number."""

    number: int
    params: dict[str, Any]
    idempotency_key: str | None = None


_WRAPPED = {"params", "idempotency_key"}


def _line_of(number: int, text: str) -> Line:
    value = _json_object(text, f"line {number}", "a JSON object")
    if "params" not in value or not set(value) <= _WRAPPED:
        return Line(number, value)
    params, key = value["params"], value.get("idempotency_key")
    if not isinstance(params, dict):
        raise InvalidJobParams(
            f"line {number}: params: expected a JSON object, got {received(params)}"
        )
    if key is not None and not isinstance(key, str):
        raise InvalidJobParams(
            f"line {number}: idempotency_key: expected a string, got {received(key)}"
        )
    return Line(number, params, key)


def read_lines(path: str) -> list[Line]:
    """The jobs of a JSON-lines file (``-``: standard input): each non-blank line a parameters
    object, or ``{"params": {...}, "idempotency_key": "..."}``. Every line is read before any
    refusal: the message names each refused line (the first ten)."""
    jobs: list[Line] = []
    problems: list[str] = []
    for number, text in enumerate(_text_of(path, "file").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            jobs.append(_line_of(number, text))
        except InvalidJobParams as exc:
            problems.append(str(exc))
    refuse_lines(problems)
    if not jobs:
        raise InvalidJobParams(f"file: expected one or more JSON lines, got none in {path}")
    return jobs


def refuse_lines(problems: list[str], total: int | None = None) -> None:
    """InvalidJobParams listing the refused lines (the first ten), if any."""
    if not problems:
        return
    shown = "; ".join(problems[:10]) + ("; ..." if len(problems) > 10 else "")
    of = f" of {total}" if total is not None else ""
    raise InvalidJobParams(f"{len(problems)} line(s){of} refused, nothing submitted: {shown}")


def seconds_of(text: str | None, option: str) -> float | None:
    """A delay: seconds, or a number with a unit (``90``, ``1.5``, ``10m``, ``2h``, ``1d``)."""
    if text is None:
        return None
    match = _DURATION.match(text)
    if match is None:
        raise InvalidJobParams(f"{option}: expected {DURATION_EXPECTED}, got {received(text)}")
    return float(match[1]) * _UNITS[match[2] or "s"]


def time_of(text: str | None, option: str) -> datetime | None:
    """A moment: an ISO 8601 time (one without a timezone is passed on, for the client to
    refuse it by name)."""
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidJobParams(
            f"{option}: expected {TIME_EXPECTED}, got {received(text)}"
        ) from None


def moment_of(text: str | None, option: str, now: datetime | None = None) -> datetime | None:
    """A moment: an ISO 8601 time with its timezone, or a duration ago (``30m``, ``2h``)."""
    if text is None:
        return None
    if _DURATION.match(text):
        ago = seconds_of(text, option) or 0.0
        return (now or datetime.now(UTC)) - timedelta(seconds=ago)
    moment = time_of(text, option)
    if moment is not None and moment.utcoffset() is None:
        raise InvalidJobParams(
            f"{option}: expected {TIME_EXPECTED}, or a duration ago (30m, 2h), "
            f"got {received(moment)}"
        )
    return moment


def chunks(lines: list[Line], size: int) -> Iterator[list[Line]]:
    """The lines in runs of at most ``size`` that all have an idempotency key or all have none
    (``submit_many`` takes keys for every job of a call, or for none)."""
    run: list[Line] = []
    for line in lines:
        if run and (
            len(run) == size or (run[0].idempotency_key is None) != (line.idempotency_key is None)
        ):
            yield run
            run = []
        run.append(line)
    if run:
        yield run
