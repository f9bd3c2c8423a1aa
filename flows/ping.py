"""Ping: a job that does nothing, to check the queue end to end and to measure its overhead."""

from __future__ import annotations

from prefect import flow

from jobs.params import Ping
from jobs.registry import JOB_TYPES

PING = JOB_TYPES["ping"]


@flow(name=PING.flow, timeout_seconds=PING.time_limit)
def ping(params: Ping) -> str:
    """Return the note: proof that a worker picked the job up and ran it."""
    return params.note
