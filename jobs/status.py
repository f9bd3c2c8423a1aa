"""What the API reports about jobs: a job handle, its status, and queue statistics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, computed_field


@dataclass(frozen=True)
class Job:
    """Handle of a submitted job."""

    id: UUID
    job_type: str


class Lane(StrEnum):
    """How a job runs: as its own Prefect flow run, or as a task run in a batch flow run."""

    FLOW = "flow"  # one flow run per job: long, heavy or scheduled jobs
    BATCH = "batch"  # many jobs per flow run, each its own task run: small, numerous jobs


class JobState(StrEnum):
    """A job's state, in the words of a job queue."""

    DELAYED = "delayed"  # scheduled for later
    WAITING = "waiting"  # due, waiting for a worker
    ACTIVE = "active"  # being run by a worker
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PAUSED = "paused"

    @property
    def is_final(self) -> bool:
        return self in (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED)


class JobStatus(BaseModel):
    """Everything the API knows about one job."""

    id: UUID
    job_type: str
    state: JobState
    prefect_state: str  # the Prefect state's name, e.g. "Late", "AwaitingRetry", "Crashed"
    progress: float  # 0-100
    failure_reason: str | None
    params: dict[str, Any]
    priority: int | None
    tags: list[str]
    attempts: int
    recoveries: list[str] = []  # why it was re-run after crashes, e.g. its worker was lost
    lane: Lane = Lane.FLOW  # its own flow run, or a task run in a batch flow run
    idempotency_key: str | None = None  # the key it was submitted with, if any
    created_at: datetime | None
    scheduled_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    ui_url: str


class QueueStats(BaseModel):
    """Counts of one job type's jobs by state: a job is counted where its status puts it."""

    job_type: str
    waiting: int
    active: int
    completed: int
    failed: int
    delayed: int
    cancelled: int
    paused: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total(self) -> int:
        return (
            self.waiting
            + self.active
            + self.completed
            + self.failed
            + self.delayed
            + self.cancelled
            + self.paused
        )


class RecurringJob(BaseModel):
    """A job that runs on a schedule: a deployment with one or more schedules."""

    name: str  # the job type, or "<flow>/<deployment>" for a deployment outside the registry
    deployment: str  # "<flow>/<deployment>"
    description: str
    cron: str | None  # of the first schedule, if it is a cron schedule
    interval_seconds: float | None  # of the first schedule, if it is an interval schedule
    timezone: str | None
    next_run_at: datetime | None  # the earliest scheduled run (overdue if in the past)
    active: bool  # some schedule is active and the deployment is not paused


class Replay(BaseModel):
    """What a dead-letter replay did: the jobs run again, and why the others were not."""

    replayed: list[UUID]  # retried: same id, same idempotency key, attempts go up
    skipped: dict[str, str]  # job id -> why not, e.g. "completed, not failed"
