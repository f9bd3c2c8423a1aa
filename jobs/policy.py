"""Retry policy shared by the job types' tasks: exponential backoff with jitter, no retry on
permanent errors."""

from __future__ import annotations

from typing import Any

from prefect.tasks import exponential_backoff

from jobs.errors import PermanentJobError

BACKOFF = exponential_backoff(backoff_factor=2)  # 2 s, 4 s, 8 s, ...
JITTER = 0.5  # each delay varies by up to half of itself


def unless_permanent(_task: Any, _task_run: Any, state: Any) -> bool:
    """Retry condition: retry any failure except a PermanentJobError."""
    return not isinstance(getattr(state, "data", None), PermanentJobError)
