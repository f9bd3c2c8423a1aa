"""Queue behaviour end to end: priorities, delays, cancellation, statistics, bulk submit."""

from __future__ import annotations

from datetime import timedelta

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolUpdate

from jobs.aio import run_sync
from jobs.client import Client
from jobs.status import JobState
from tests.support.emails import unique_address, welcome
from tests.support.smtp import Recorder
from tests.support.stack import Stack


def set_pool_paused(stack: Stack, paused: bool) -> None:
    async def update() -> None:
        async with get_client() as prefect:
            await prefect.update_work_pool(
                stack.settings.work_pool, WorkPoolUpdate(is_paused=paused)
            )

    run_sync(update())


def test_urgent_job_submitted_after_low_ones_starts_first(
    stack: Stack, client: Client, smtp: Recorder
) -> None:
    set_pool_paused(stack, True)  # hold the queue while submitting, as a busy worker would
    try:
        low = client.submit_many(
            "email", [welcome(unique_address()) for _ in range(10)], priority=10
        )
        urgent = client.submit("email", welcome(unique_address()), priority=1)
    finally:
        set_pool_paused(stack, False)

    urgent_status = client.wait(urgent, timeout=180)
    low_statuses = [client.wait(job, timeout=300) for job in low]

    assert urgent_status.state is JobState.COMPLETED
    assert all(s.state is JobState.COMPLETED for s in low_statuses)
    assert urgent_status.started_at is not None
    assert all(s.started_at and urgent_status.started_at < s.started_at for s in low_statuses)
    assert len(smtp.messages) == 11


def test_delayed_job_waits_for_its_time(client: Client, smtp: Recorder) -> None:
    address = unique_address()
    job = client.submit("email", welcome(address), delay=timedelta(seconds=8))

    assert client.status(job).state is JobState.DELAYED
    status = client.wait(job, timeout=120)

    assert status.state is JobState.COMPLETED
    assert status.scheduled_at and status.started_at
    assert status.started_at >= status.scheduled_at
    assert len(smtp.to(address)) == 1


def test_cancel_a_delayed_job(client: Client, smtp: Recorder) -> None:
    job = client.submit("email", welcome(unique_address()), delay=3600)

    client.cancel(job)

    assert client.status(job).state is JobState.CANCELLED


def test_stats_count_what_was_submitted(client: Client, smtp: Recorder) -> None:
    before = client.stats("email")
    done = client.submit_many("email", [welcome(unique_address()) for _ in range(2)])
    failed = client.submit("email", welcome("nobody@example.com"))
    later = client.submit_many("email", [welcome(unique_address()) for _ in range(3)], delay=3600)
    for job in [*done, failed]:
        client.wait(job, timeout=120)

    after = client.stats("email")

    assert after.completed - before.completed == 2
    assert after.failed - before.failed == 1
    assert after.delayed - before.delayed == 3
    assert after.total - before.total == 6
    for job in later:
        client.cancel(job)
    assert client.stats("email").cancelled - after.cancelled == 3


def test_bulk_submit_creates_one_job_each(client: Client) -> None:
    params = [welcome(unique_address()) for _ in range(25)]

    jobs = client.submit_many("email", params, delay=3600, priority=8)

    assert len({job.id for job in jobs}) == 25
    statuses = [client.status(job) for job in jobs[:3]]
    assert all(s.state is JobState.DELAYED and s.priority == 8 for s in statuses)
    assert [s.params["to"] for s in statuses] == [p["to"] for p in params[:3]]
    for job in jobs:
        client.cancel(job)
