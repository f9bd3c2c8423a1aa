"""What a person sees in the UI's run lists: runs named by job type and subject.

A flow run is named ``<job type> <subject>`` (``email → ada@example.com +2``) and a task run
``<task> <subject>``; each domain builds the subject from the job's parameters
(``jobs/email/titles.py``, ...). Names hold no secrets and no message bodies: recipients, event
names, URL hosts (never paths or query strings), files relative to the storage root; and at most
``MAX_LENGTH`` characters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel

from jobs import runlog

if TYPE_CHECKING:
    from prefect.tasks import TaskRunNameCallbackWithParameters

MAX_LENGTH = 80
ELLIPSIS = "…"

M = TypeVar("M", bound=BaseModel)
Subject = Callable[[M], str]


def shorten(text: str, limit: int = MAX_LENGTH) -> str:
    """``text`` on one line, cut in the middle to at most ``limit`` characters (both ends are
    what tells runs apart: a path's folder and file name, an address and its ``+2``)."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if len(flat) <= limit:
        return flat
    tail = (limit - len(ELLIPSIS)) // 2
    head = limit - len(ELLIPSIS) - tail
    return f"{flat[:head]}{ELLIPSIS}{flat[len(flat) - tail :]}"


def host(url: str) -> str:
    """The host of ``url``: no user, password, port, path, query or fragment."""
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


def where(url: str) -> str:
    """Host and path of ``url`` (for log lines): no user, password, query or fragment."""
    try:
        parts = urlsplit(url)
        return f"{parts.hostname or '?'}{parts.path or '/'}"
    except ValueError:
        return "?"


def without_query(url: str) -> str:
    """``url`` without user, password, query or fragment (for error messages)."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")[2]
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return "?"


def people(addresses: Sequence[str]) -> str:
    """The first address, and how many more: ``ada@example.com +2``."""
    if not addresses:
        return "nobody"
    more = f" +{len(addresses) - 1}" if len(addresses) > 1 else ""
    return f"{addresses[0]}{more}"


def count(number: int, noun: str) -> str:
    """``1 recipient``, ``1,200 recipients``."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def run_name(prefix: str, subject: str) -> str:
    """``<prefix> <subject>``, shortened."""
    return shorten(f"{prefix} {subject}" if subject else prefix)


def flow_run_namer(job_type: str, model: type[M], subject: Subject[M]) -> Callable[[], str]:
    """A ``flow_run_name=`` callable: ``<job type> <subject of the run's params>``.

    Prefect calls it with the run's validated parameters in context, just before the run
    starts. A subject that cannot be made leaves the job type alone: naming never fails a run.
    """

    def name() -> str:
        from prefect.runtime import flow_run

        return _named(job_type, model, subject, flow_run.parameters.get("params"))

    return name


def task_run_namer(
    task_name: str, model: type[M], subject: Subject[M]
) -> TaskRunNameCallbackWithParameters:
    """A ``task_run_name=`` callable: ``<task name> <subject of the task's params argument>``."""

    def name(parameters: dict[str, Any]) -> str:
        return _named(task_name, model, subject, parameters.get("params"))

    return task_run_name(name)


def task_run_name(name: Callable[[dict[str, Any]], str]) -> TaskRunNameCallbackWithParameters:
    """``name`` as Prefect's type of a ``task_run_name=`` callable that takes the task's
    arguments as ``parameters`` (the Protocol's classmethod makes mypy refuse plain functions)."""
    return cast("TaskRunNameCallbackWithParameters", name)


def safely(prefix: str, subject: Callable[[], str]) -> str:
    """``run_name(prefix, subject())``, or ``prefix`` alone (with a warning) if that raises."""
    try:
        return run_name(prefix, subject())
    except Exception:
        runlog.logger(__name__).warning(
            "Could not name the run after its parameters", exc_info=True
        )
        return prefix


def _named(prefix: str, model: type[M], subject: Subject[M], params: Any) -> str:
    return safely(prefix, lambda: subject(model.model_validate(params)))
