"""The one exception hierarchy of the jobs package, and how its messages show refused values."""

from __future__ import annotations

from datetime import datetime, timedelta


class JobsError(Exception):
    """Unexpected jobs error."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.__doc__)


class JobNotFound(JobsError):
    """No job with that id exists."""


class InvalidJobParams(JobsError):
    """The job's parameters are not valid."""


class SubmitFailed(JobsError):
    """The job could not be submitted to the Prefect server."""


class ServerUnavailable(JobsError):
    """The Prefect server could not be reached, or could not answer the request."""


class KeyNotFound(JobsError):
    """No API key has that name."""


class PermanentJobError(JobsError):
    """The job failed for a reason that retrying cannot fix."""


def received(value: object) -> str:
    """How a message shows a value it refuses: its type, then the value, cut to 80 characters.

    ``str 'urgent'``, ``naive datetime 2031-05-17T09:30:00``, ``list of 2 items ['a', 'b']``.
    """
    kind = type(value).__name__
    if isinstance(value, datetime):
        return f"{'naive ' if value.utcoffset() is None else ''}{kind} {value.isoformat()}"
    if isinstance(value, timedelta):
        return f"{kind} of {value.total_seconds()} seconds"
    try:
        shown = repr(value)
    except Exception:  # a broken __repr__ must not hide the refusal
        shown = f"<{kind} object>"
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    if isinstance(value, str | bytes) and len(value) > 80:
        unit = "characters" if isinstance(value, str) else "bytes"
        return f"{kind} of {len(value)} {unit} {shown}"
    if isinstance(value, list | tuple | set | frozenset | dict):
        count = len(value)
        return f"{kind} of {count} item{'' if count == 1 else 's'} {shown}"
    return f"{kind} {shown}"
