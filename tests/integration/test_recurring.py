"""Recurring jobs on the real server: prefect.yaml's schedules make one run per slot, and the
client lists, pauses, resumes and triggers them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.client.schemas.objects import FlowRun

from jobs.client import Client
from jobs.errors import JobNotFound
from jobs.registry import JOB_TYPES
from tests.support.polling import until
from tests.support.runs import discard

SCHEDULES = {
    "db_cleanup": "0 2 * * *",
    "cache_cleanup": "20 * * * *",
    "reminders": "0 8 * * *",
    "renewals": "0 * * * *",
    "retention": "40 * * * *",
}


def slots(cron: str, after: datetime, count: int) -> list[datetime]:
    """The first ``count`` times after ``after`` of a cron "M * * * *" or "M H * * *" (UTC)."""
    minute, hour = cron.split()[:2]
    step = timedelta(hours=1) if hour == "*" else timedelta(days=1)
    after = datetime.fromtimestamp(after.timestamp(), UTC)  # a plain datetime
    first = after.replace(minute=int(minute), second=0, microsecond=0)
    if hour != "*":
        first = first.replace(hour=int(hour))
    while first <= after:
        first += step
    return [first + n * step for n in range(count)]


async def auto_scheduled(prefect: PrefectClient, deployment_id: UUID) -> list[FlowRun]:
    runs = await prefect.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
    )
    never = datetime.min.replace(tzinfo=UTC)
    scheduled = [run for run in runs if run.auto_scheduled]
    return sorted(scheduled, key=lambda run: run.expected_start_time or never)


@pytest.mark.parametrize("job_type", sorted(SCHEDULES))
async def test_each_schedule_slot_gets_exactly_one_run(client: Client, job_type: str) -> None:
    async with get_client() as prefect:
        deployment = await prefect.read_deployment_by_name(JOB_TYPES[job_type].deployment_name)
        [schedule] = await prefect.read_deployment_schedules(deployment.id)

        async def three_runs() -> bool:
            return len(await auto_scheduled(prefect, deployment.id)) >= 3

        await until(three_runs, 60, f"{job_type} has three scheduled runs")
        path = {"id": deployment.id}
        await prefect.request("POST", "/deployments/{id}/schedule", path_params=path, json={})
        runs = await auto_scheduled(prefect, deployment.id)

    assert getattr(schedule.schedule, "cron", None) == SCHEDULES[job_type]
    assert schedule.created is not None
    times = [run.expected_start_time for run in runs]
    assert times == slots(SCHEDULES[job_type], schedule.created, len(runs))
    assert len({run.idempotency_key for run in runs}) == len(runs)


def test_the_client_lists_the_recurring_jobs(client: Client) -> None:
    found = {job.name: job for job in client.recurring_jobs()}

    assert set(SCHEDULES) | {"report"} <= set(found)
    for name, cron in SCHEDULES.items():
        job = found[name]
        assert job.cron == cron
        assert job.timezone == "UTC"
        assert job.deployment == JOB_TYPES[name].deployment_name
        assert job.active
        assert job.next_run_at is not None
        assert job.next_run_at.minute == int(cron.split()[0])
    assert "email" not in found


def test_a_paused_recurring_job_has_no_future_runs_until_resumed(client: Client) -> None:
    try:
        paused = client.pause_recurring("cache_cleanup")
        now = datetime.now(UTC)
        assert not paused.active
        assert paused.next_run_at is None or paused.next_run_at <= now  # only an overdue one
    finally:
        resumed = client.resume_recurring("cache_cleanup")

    assert resumed.active
    assert resumed.next_run_at is not None
    [listed] = [job for job in client.recurring_jobs() if job.name == "cache_cleanup"]
    assert listed.active


async def test_a_recurring_job_can_be_run_now(client: Client) -> None:
    job = await client.trigger_recurring_async("cache_cleanup")
    try:
        async with get_client() as prefect:
            run = await prefect.read_flow_run(job.id)
            deployment = await prefect.read_deployment_by_name("invalidate-cache/cache-cleanup")
        status = await client.status_async(job)
    finally:
        async with get_client() as prefect:
            await discard(prefect, [job.id])

    assert job.job_type == "cache_cleanup"
    assert run.deployment_id == deployment.id
    assert not run.auto_scheduled
    assert {"triggered", "job:cache_cleanup", "maintenance"} <= set(run.tags)
    assert status.job_type == "cache_cleanup"


@pytest.mark.parametrize("name", ["nightly", "email", "no-such-flow/nothing"])
def test_unknown_or_unscheduled_names_are_not_found(client: Client, name: str) -> None:
    with pytest.raises(JobNotFound):
        client.trigger_recurring(name)
    with pytest.raises(JobNotFound):
        client.pause_recurring(name)
