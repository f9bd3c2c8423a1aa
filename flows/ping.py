"""Ping: a job that does nothing, to check the queue end to end and to measure its overhead."""

from __future__ import annotations

import time

from prefect import flow

from jobs.params import Ping
from jobs.policy import retrying_task
from jobs.registry import JOB_TYPES

PING = JOB_TYPES["ping"]
TASK_SECONDS = 10
"""Time limit of one ping in a batch; a longer ``seconds`` times out there."""


def _idle(params: Ping) -> str:
    deadline = time.monotonic() + params.seconds
    while time.monotonic() < deadline:  # short sleeps: a time limit can stop it between two
        time.sleep(min(0.05, deadline - time.monotonic()))
    if params.fail:
        raise RuntimeError(f"ping failed on purpose (note {params.note!r})")
    return params.note


@retrying_task(retries=PING.retries, timeout_seconds=TASK_SECONDS, name="ping")
def ping_task(params: Ping) -> str:
    return _idle(params)


@flow(name=PING.flow, timeout_seconds=PING.time_limit)
def ping(params: Ping) -> str:
    """Return the note: proof that a worker picked the job up and ran it."""
    return _idle(params)
