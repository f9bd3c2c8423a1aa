"""Recurring jobs: deployments of the work pool that run on schedules (prefect.yaml).

List them with their schedule and next run, pause or resume their schedules, or run one now.
A recurring job is named by its job type (``"retention"``) or ``"<flow>/<deployment>"``.
Pausing turns the deployment's schedules off (Prefect deletes its future scheduled runs);
``prefect deploy`` (``make up``) turns them on again, as prefect.yaml declares them.
"""

from __future__ import annotations

from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowFilter,
    FlowFilterId,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
    WorkPoolFilter,
    WorkPoolFilterName,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.responses import DeploymentResponse
from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule
from prefect.client.schemas.sorting import FlowRunSort
from prefect.exceptions import ObjectNotFound

from jobs.errors import JobNotFound
from jobs.registry import JOB_TYPES
from jobs.status import Job, RecurringJob

_BY_DEPLOYMENT = {job_type.deployment_name: job_type.name for job_type in JOB_TYPES.values()}
PAGE = 200


def deployment_name(name: str) -> str:
    if name in JOB_TYPES:
        return JOB_TYPES[name].deployment_name
    if "/" in name:
        return name
    raise JobNotFound(
        f"no recurring job {name!r}; expected a job type (e.g. 'retention') or <flow>/<deployment>"
    )


async def _find(client: PrefectClient, name: str) -> DeploymentResponse:
    full_name = deployment_name(name)
    try:
        deployment = await client.read_deployment_by_name(full_name)
    except ObjectNotFound:
        raise JobNotFound(f"no recurring job {name!r}: {full_name!r} is not deployed") from None
    if not deployment.schedules:
        raise JobNotFound(f"{name!r} is not a recurring job: {full_name!r} has no schedule")
    return deployment


async def describe(
    client: PrefectClient, deployment: DeploymentResponse, flow_name: str
) -> RecurringJob:
    """The recurring job ``deployment`` (of the flow ``flow_name``) stands for."""
    full_name = f"{flow_name}/{deployment.name}"
    first = deployment.schedules[0].schedule
    upcoming = await client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
        ),
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
        sort=FlowRunSort.NEXT_SCHEDULED_START_TIME_ASC,
        limit=1,
    )
    return RecurringJob(
        name=_BY_DEPLOYMENT.get(full_name, full_name),
        deployment=full_name,
        description=deployment.description or "",
        cron=first.cron if isinstance(first, CronSchedule) else None,
        interval_seconds=(
            first.interval.total_seconds() if isinstance(first, IntervalSchedule) else None
        ),
        timezone=getattr(first, "timezone", None),
        next_run_at=upcoming[0].next_scheduled_start_time if upcoming else None,
        active=not deployment.paused and any(s.active for s in deployment.schedules),
    )


async def _pool_deployments(client: PrefectClient, work_pool: str) -> list[DeploymentResponse]:
    pools = WorkPoolFilter(name=WorkPoolFilterName(any_=[work_pool]))
    found: list[DeploymentResponse] = []
    while page := await client.read_deployments(
        work_pool_filter=pools, limit=PAGE, offset=len(found)
    ):
        found += page
        if len(page) < PAGE:
            break
    return found


async def list_recurring(client: PrefectClient, work_pool: str) -> list[RecurringJob]:
    """Every deployment of ``work_pool`` that has a schedule, by name."""
    scheduled = [d for d in await _pool_deployments(client, work_pool) if d.schedules]
    if not scheduled:
        return []
    flows = await client.read_flows(
        flow_filter=FlowFilter(id=FlowFilterId(any_=list({d.flow_id for d in scheduled})))
    )
    flow_names = {flow.id: flow.name for flow in flows}
    jobs = [await describe(client, d, flow_names[d.flow_id]) for d in scheduled]
    return sorted(jobs, key=lambda job: job.name)


async def set_active(client: PrefectClient, name: str, active: bool) -> RecurringJob:
    """Turn the recurring job's schedules on or off; its description afterwards."""
    deployment = await _find(client, name)
    for schedule in deployment.schedules:
        await client.update_deployment_schedule(deployment.id, schedule.id, active=active)
    if active:
        if deployment.paused:
            await client.resume_deployment(deployment.id)
        await _schedule_now(client, deployment.id)
    flow = await client.read_flow(deployment.flow_id)
    return await describe(client, await client.read_deployment(deployment.id), flow.name)


async def _schedule_now(client: PrefectClient, deployment_id: UUID) -> None:
    """Create the next scheduled runs now rather than at the scheduler's next loop."""
    path_params = {"id": deployment_id}
    await client.request("POST", "/deployments/{id}/schedule", path_params=path_params, json={})


async def trigger(client: PrefectClient, name: str) -> Job:
    """Run the recurring job now, once, with its deployment's parameters."""
    deployment = await _find(client, name)
    run = await client.create_flow_run_from_deployment(deployment.id, tags=["triggered"])
    flow = await client.read_flow(deployment.flow_id)
    full_name = f"{flow.name}/{deployment.name}"
    return Job(id=run.id, job_type=_BY_DEPLOYMENT.get(full_name, full_name))
