"""Reading Prefect flow runs as jobs: state mapping, progress, attempts, counts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterType,
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterNextScheduledStartTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.sorting import ArtifactSort

from jobs import history
from jobs.registry import priority_of
from jobs.status import JobState, JobStatus, Lane, QueueStats

if TYPE_CHECKING:
    from jobs.db.models import QueuedJob

_TICK = timedelta(microseconds=1)
_FIXED = {
    StateType.PENDING: JobState.WAITING,
    StateType.RUNNING: JobState.ACTIVE,
    StateType.CANCELLING: JobState.ACTIVE,
    StateType.COMPLETED: JobState.COMPLETED,
    StateType.FAILED: JobState.FAILED,
    StateType.CRASHED: JobState.FAILED,
    StateType.CANCELLED: JobState.CANCELLED,
    StateType.PAUSED: JobState.PAUSED,
}
_TYPES_OF = {  # the Prefect state types read as each job state, whatever the time
    state: [state_type for state_type, fixed in _FIXED.items() if fixed is state]
    for state in JobState
    if state in _FIXED.values()
}


def job_state(run: FlowRun, now: datetime | None = None) -> JobState:
    """The job state of a flow run: a scheduled run is delayed until it is due, then waiting."""
    state_type = run.state.type if run.state else StateType.SCHEDULED
    if state_type in _FIXED:
        return _FIXED[state_type]
    due = run.next_scheduled_start_time or run.expected_start_time
    return JobState.DELAYED if due and due > (now or datetime.now(UTC)) else JobState.WAITING


async def progress_of(client: PrefectClient, run: FlowRun) -> float:
    """The latest progress artifact's value; 100 for a completed job that has none."""
    artifacts = await client.read_artifacts(
        artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]),
            type=ArtifactFilterType(any_=["progress"]),
        ),
        sort=ArtifactSort.UPDATED_DESC,
        limit=1,
    )
    if artifacts and isinstance(artifacts[0].data, int | float):
        return float(artifacts[0].data)
    return 100.0 if run.state and run.state.is_completed() else 0.0


async def attempts_of(client: PrefectClient, run: FlowRun) -> int:
    """How many times the job's work was tried: the most runs of any of its tasks."""
    task_runs = await client.read_task_runs(
        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id]))
    )
    return max([run.run_count, *(task_run.run_count for task_run in task_runs)])


async def recoveries_of(client: PrefectClient, run: FlowRun) -> list[str]:
    """Why the job was re-run after crashes (see :mod:`jobs.history`); empty for most jobs."""
    states = await client.read_flow_run_states(run.id)
    return history.recoveries(sorted(states, key=lambda state: state.timestamp))


async def status_of(client: PrefectClient, run: FlowRun, job_type: str, ui_url: str) -> JobStatus:
    progress, attempts, recoveries = await asyncio.gather(
        progress_of(client, run), attempts_of(client, run), recoveries_of(client, run)
    )
    state = job_state(run)
    failed = state is JobState.FAILED or (run.state is not None and run.state.is_crashed())
    return JobStatus(
        id=run.id,
        job_type=job_type,
        state=state,
        prefect_state=run.state.name if run.state and run.state.name else "Scheduled",
        progress=progress,
        failure_reason=run.state.message if failed and run.state else None,
        params=dict(run.parameters.get("params", run.parameters)),
        priority=priority_of(run.work_queue_name),
        tags=list(run.tags),
        attempts=attempts,
        recoveries=recoveries,
        idempotency_key=_given_key(run.idempotency_key),
        created_at=run.created,
        scheduled_at=run.expected_start_time,
        started_at=run.start_time,
        finished_at=run.end_time,
        ui_url=f"{ui_url}/runs/flow-run/{run.id}",
    )


_OWN_KEYS = ("submit-", "outbox-")
"""Prefixes of the keys the client and the relay give keyless jobs (so resending is safe)."""


def _given_key(key: str | None) -> str | None:
    """A run's idempotency key as the submitter gave it; None for the client's own keys."""
    return None if key is None or key.startswith(_OWN_KEYS) else key


def _states(*types: StateType) -> FlowRunFilterState:
    return FlowRunFilterState(type=FlowRunFilterStateType(any_=list(types)))


async def stats_of(client: PrefectClient, deployment_id: UUID, job_type: str) -> QueueStats:
    """Counts by job state of one deployment's runs, each run counted in the state
    :func:`job_state` gives it (one count query per group of Prefect state types)."""
    now = datetime.now(UTC)
    due = FlowRunFilterNextScheduledStartTime(before_=now)
    later = FlowRunFilterNextScheduledStartTime(after_=now + _TICK)
    scheduled = _states(StateType.SCHEDULED)
    queries = [
        (JobState.WAITING, FlowRunFilter(state=scheduled, next_scheduled_start_time=due)),
        (JobState.DELAYED, FlowRunFilter(state=scheduled, next_scheduled_start_time=later)),
        *((state, FlowRunFilter(state=_states(*types))) for state, types in _TYPES_OF.items()),
    ]
    deployments = DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
    counts = await asyncio.gather(
        *(
            client.count_flow_runs(flow_run_filter=runs, deployment_filter=deployments)
            for _, runs in queries
        )
    )
    found = dict.fromkeys(JobState, 0)
    for (state, _), count in zip(queries, counts, strict=True):
        found[state] += count
    return QueueStats(job_type=job_type, **{str(state): n for state, n in found.items()})


_ROW_STATES = {  # jobs.db.models.QueueState values (the ORM is not loaded by `import jobs`)
    "assigned": JobState.WAITING,
    "dispatched": JobState.WAITING,
    "running": JobState.ACTIVE,
    "completed": JobState.COMPLETED,
    "failed": JobState.FAILED,
    "cancelled": JobState.CANCELLED,
}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def row_state(row: QueuedJob, now: datetime | None = None) -> JobState:
    """The job state of an outbox row: a queued job is delayed until it is due, then waiting."""
    if row.state == "queued":
        due = _aware(row.run_at) > (now or datetime.now(UTC))
        return JobState.DELAYED if due else JobState.WAITING
    return _ROW_STATES[str(row.state)]


def status_of_row(row: QueuedJob, ui_url: str) -> JobStatus:
    """The status of a job the outbox holds: a batched job, or one not handed over yet."""
    state = row_state(row)
    if row.lane == Lane.BATCH and row.started_at is not None:
        ui = f"{ui_url}/runs/task-run/{row.id}"  # the job's own task run
    elif row.run_id:
        ui = f"{ui_url}/runs/flow-run/{row.run_id}"  # the batch it is in
    else:
        ui = f"{ui_url}/runs"
    return JobStatus(
        id=UUID(row.id),
        job_type=row.job_type,
        state=state,
        prefect_state=str(row.state).capitalize(),
        progress=100.0 if state is JobState.COMPLETED else 0.0,
        failure_reason=row.failure_reason if state is JobState.FAILED else None,
        params=dict(row.params),
        priority=row.priority,
        tags=sorted({*row.tags, f"job:{row.job_type}"}),
        attempts=row.attempts,
        lane=Lane(row.lane),
        idempotency_key=row.idempotency_key,
        created_at=_aware(row.created_at),
        scheduled_at=_aware(row.run_at),
        started_at=_aware(row.started_at) if row.started_at else None,
        finished_at=_aware(row.finished_at) if row.finished_at else None,
        ui_url=ui,
    )


_COUNTED_AS = {
    "queued": JobState.WAITING,
    "delayed": JobState.DELAYED,
    **_ROW_STATES,
}


def add_outbox_counts(
    stats: QueueStats, batched: dict[str, int], relayed: dict[str, int]
) -> QueueStats:
    """``stats`` (the job type's own flow runs) plus its outbox jobs: every batched job, and
    flow-lane jobs not handed over yet (once handed over they are flow runs, counted already)."""
    found = {str(state): getattr(stats, str(state)) for state in JobState}
    for name, count in batched.items():
        found[str(_COUNTED_AS[name])] += count
    for name in ("queued", "delayed", "assigned", "cancelled"):
        found[str(_COUNTED_AS[name])] += relayed.get(name, 0)
    return QueueStats(job_type=stats.job_type, **found)
