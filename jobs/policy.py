"""Retry policy shared by the job types' tasks: exponential backoff with jitter, no retry on
permanent errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import TaskRunNameValueOrCallable, exponential_backoff

from jobs.errors import PermanentJobError

BACKOFF = exponential_backoff(backoff_factor=2)  # 2 s, 4 s, 8 s, ...
JITTER = 0.5  # each delay varies by up to half of itself


def unless_permanent(_task: Any, _task_run: Any, state: Any) -> bool:
    """Retry condition: retry any failure except a PermanentJobError."""
    return not isinstance(getattr(state, "data", None), PermanentJobError)


P = ParamSpec("P")
R = TypeVar("R")


def retrying_task(
    *,
    retries: int,
    timeout_seconds: float,
    name: str | None = None,
    task_run_name: TaskRunNameValueOrCallable | None = None,
) -> Callable[[Callable[P, R]], Task[P, R]]:
    """``@task`` with the jobs' retry policy: ``retries`` with backoff and jitter, none for
    permanent errors, a time limit per attempt, and no result caching (tasks have effects).

    ``name`` and ``task_run_name`` are Prefect's: the task's name (default: the function's) and
    its runs' names (see jobs/titles.py)."""
    return task(
        name=name,
        task_run_name=task_run_name,
        retries=retries,
        retry_delay_seconds=BACKOFF,
        retry_jitter_factor=JITTER,
        retry_condition_fn=unless_permanent,
        cache_policy=NO_CACHE,
        timeout_seconds=timeout_seconds,
    )
