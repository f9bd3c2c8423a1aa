"""Reading Prefect flow runs as jobs: state mapping, progress, attempts, counts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
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
from jobs.status import JobState, JobStatus, QueueStats

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
        created_at=run.created,
        scheduled_at=run.expected_start_time,
        started_at=run.start_time,
        finished_at=run.end_time,
        ui_url=f"{ui_url}/runs/flow-run/{run.id}",
    )


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
