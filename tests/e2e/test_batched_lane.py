"""The batched lane end to end: client → outbox → relay → batch flow run on the worker → SMTP.

Each batched job is a task run of a batch flow run; these tests follow them through the same
client calls as single jobs, against the real server, worker, relay and SMTP server.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    TaskRunFilter,
    TaskRunFilterId,
)
from prefect.client.schemas.objects import FlowRun, TaskRun
from sqlalchemy import select

import jobs
from jobs import outbox, services
from jobs.aio import run_sync
from jobs.client import Client
from jobs.db.engine import session
from jobs.db.models import QueuedJob
from jobs.settings import Settings
from jobs.status import JobState, Lane
from tests.support.emails import unique_address, welcome
from tests.support.polling import wait_until
from tests.support.smtp import Recorder
from tests.support.stack import Stack


def task_runs(ids: list[UUID]) -> dict[UUID, TaskRun]:
    async def go() -> list[TaskRun]:
        async with get_client() as prefect:
            return await prefect.read_task_runs(
                task_run_filter=TaskRunFilter(id=TaskRunFilterId(any_=ids))
            )

    return {run.id: run for run in run_sync(go())}


def flow_runs(ids: list[UUID]) -> list[FlowRun]:
    async def go() -> list[FlowRun]:
        async with get_client() as prefect:
            return await prefect.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids))
            )

    return run_sync(go())


def test_batched_emails_are_sent_once_each_as_task_runs_of_one_batch(
    stack: Stack, client: Client, smtp: Recorder
) -> None:
    addresses = [unique_address() for _ in range(12)]

    handles = client.submit_many("email", [welcome(address) for address in addresses])
    finals = [client.wait(job, timeout=120, poll=0.2) for job in handles]

    assert {status.state for status in finals} == {JobState.COMPLETED}
    assert {status.lane for status in finals} == {Lane.BATCH}
    for address in addresses:
        assert len(smtp.to(address)) == 1
    rows = [outbox.get(str(job.id)) for job in handles]
    assert len({row.run_id for row in rows if row}) == 1  # one batch flow run for all twelve
    batch_id = UUID(rows[0].run_id or "")
    wait_until(  # it ends once its last job has, and its outcome table is written
        lambda: (state := flow_runs([batch_id])[0].state) is not None and state.is_final(),
        60,
        "the batch run ended",
    )
    [batch] = flow_runs([batch_id])
    assert batch.state is not None and batch.state.is_completed()
    assert batch.parameters["job_type"] == "email"
    # each job is a task run whose id is the job's own, named after its recipient
    wait_until(lambda: len(task_runs([job.id for job in handles])) == 12, 60, "recorded")
    runs = task_runs([job.id for job in handles])
    for job, address in zip(handles, addresses, strict=True):
        assert runs[job.id].name == f"send-email → {address}"
        assert runs[job.id].flow_run_id == batch.id
    assert finals[0].ui_url.endswith(f"/runs/task-run/{handles[0].id}")


def test_one_job_failing_timing_out_or_cancelled_leaves_the_others_alone(
    stack: Stack, client: Client
) -> None:
    params = [{"note": f"ok-{i}", "seconds": 2} for i in range(8)]  # fill the batch's 8 threads
    params += [{"note": "fails", "fail": True}, {"note": "times out", "seconds": 14}]
    params += [{"note": "cancelled before it starts"}, {"note": "ok-last"}]

    handles = client.submit_many("ping", params)
    wait_until(lambda: client.status(handles[0]).state is JobState.ACTIVE, 60, "the batch started")
    client.cancel(handles[10])  # queued behind eight running jobs
    finals = [client.wait(job, timeout=120, poll=0.2) for job in handles]

    states = [status.state for status in finals]
    assert states[:8] == [JobState.COMPLETED] * 8
    assert states[8] is JobState.FAILED
    assert "ping failed on purpose" in (finals[8].failure_reason or "")
    assert states[9] is JobState.FAILED
    assert "timeout" in (finals[9].failure_reason or "").lower()
    assert states[10] is JobState.CANCELLED
    assert finals[10].started_at is None  # skipped: never run
    assert states[11] is JobState.COMPLETED
    assert len({outbox.get(str(job.id)).run_id for job in handles[:10]}) == 1  # type: ignore[union-attr]


def test_status_retry_and_stats_of_batched_jobs(stack: Stack, client: Client) -> None:
    before = client.stats("ping")
    failing = client.submit("ping", {"note": "retry me", "fail": True})

    status = client.wait(failing, timeout=60, poll=0.2)
    assert (status.state, status.attempts, status.lane) == (JobState.FAILED, 1, Lane.BATCH)
    assert status.params == {"note": "retry me", "seconds": 0.0, "fail": True}
    assert "job:ping" in status.tags
    after = client.stats("ping")
    assert after.failed == before.failed + 1  # a job counted, not its batch

    client.retry(failing)
    again = client.wait(failing, timeout=60, poll=0.2)
    assert (again.state, again.attempts) == (JobState.FAILED, 2)
    with pytest.raises(jobs.JobsError, match="already finished"):
        client.cancel(failing)


def test_a_delayed_batched_job_is_cancelled_at_once(stack: Stack, client: Client) -> None:
    job = client.submit("ping", {"note": "later"}, delay=3600)

    assert client.status(job).state is JobState.DELAYED
    client.cancel(job)

    assert client.status(job).state is JobState.CANCELLED


def test_debounce_runs_one_job_with_the_last_parameters(stack: Stack, client: Client) -> None:
    key = f"debounce-{unique_address()}"

    handles = [
        client.submit("ping", {"note": f"version {n}"}, debounce=(key, 1.5)) for n in range(5)
    ]

    assert len({job.id for job in handles}) == 1
    status = client.wait(handles[-1], timeout=60, poll=0.2)
    assert status.state is JobState.COMPLETED
    assert status.params["note"] == "version 4"
    with session() as db:
        assert db.scalar(select(QueuedJob.id).where(QueuedJob.debounce_key == key)) == str(
            handles[0].id
        )
    later = client.submit("ping", {"note": "after the window"}, debounce=(key, 0.5))
    assert later.id != handles[0].id  # a new window, a new job


def test_an_idempotency_key_means_one_job_across_both_lanes(stack: Stack, client: Client) -> None:
    key = f"same-{unique_address()}"

    batched = client.submit("ping", {"note": "batched"}, idempotency_key=key)
    flowed = client.submit("ping", {"note": "flow"}, idempotency_key=key, lane="flow")
    other_key = f"other-{unique_address()}"
    first_flow = client.submit("ping", {}, idempotency_key=other_key, lane="flow")
    then_batched = client.submit("ping", {}, idempotency_key=other_key)

    assert flowed.id == batched.id
    assert then_batched.id == first_flow.id
    assert client.wait(batched, timeout=60, poll=0.2).lane is Lane.BATCH
    assert client.wait(first_flow, timeout=60, poll=0.2).lane is Lane.FLOW


def test_enqueue_commits_with_the_application_or_not_at_all(stack: Stack, client: Client) -> None:
    note = unique_address()
    with pytest.raises(RuntimeError), session() as db, db.begin():
        rolled_back = jobs.enqueue(db, "ping", {"note": f"rolled back {note}"})
        raise RuntimeError("the application's transaction fails")
    with session() as db, db.begin():
        committed = jobs.enqueue(db, "ping", {"note": f"committed {note}"})
        relayed = jobs.enqueue(db, "ping", {"note": f"flow {note}"}, lane="flow")

    assert outbox.get(str(rolled_back.id)) is None
    with pytest.raises(jobs.JobNotFound):
        client.status(rolled_back)
    assert client.wait(committed, timeout=60, poll=0.2).state is JobState.COMPLETED
    flow_status = client.wait(relayed, timeout=60, poll=0.2)
    assert (flow_status.state, flow_status.lane, flow_status.id) == (
        JobState.COMPLETED,
        Lane.FLOW,
        relayed.id,
    )
    assert client.status(committed).attempts == 1


@pytest.fixture
def one_at_a_time(stack: Stack) -> Iterator[Settings]:
    """The session's relay steps aside for one that hands over one job at a time (a batch of
    one, one batch in flight), so the order it chooses is the order jobs run in."""
    stack.stop_relay()
    settings = stack.settings.model_copy(update={"batch_size": 1, "batch_max_in_flight": 1})
    try:
        yield settings
    finally:
        stack.start_relay()


def test_priority_then_fairness_decide_the_order_with_one_slot(
    stack: Stack, client: Client, one_at_a_time: Settings
) -> None:
    burst = client.submit_many(
        "ping", [{"note": f"a-{i}"} for i in range(4)], fairness_key="tenant-a"
    )
    lone = client.submit("ping", {"note": "b-0"}, fairness_key="tenant-b")
    urgent = client.submit("ping", {"note": "urgent"}, priority=1, fairness_key="tenant-a")
    relay = services.start_relay(one_at_a_time)
    try:
        finals = [client.wait(job, timeout=120, poll=0.2) for job in [*burst, lone, urgent]]
    finally:
        services.stop([relay])

    started = {status.params["note"]: status.started_at for status in finals}
    assert all(isinstance(moment, datetime) for moment in started.values())
    by_start = sorted(finals, key=lambda status: started[status.params["note"]])
    assert [status.params["note"] for status in by_start] == [
        "urgent", "a-0", "b-0", "a-1", "a-2", "a-3",
    ]  # fmt: skip


def test_concurrent_submits_share_batches(stack: Stack, client: Client) -> None:
    start = threading.Barrier(16)

    def one(n: int) -> jobs.Job:
        start.wait()
        return client.submit("ping", {"note": f"concurrent {n}"})

    with ThreadPoolExecutor(16) as pool:
        handles = list(pool.map(one, range(16)))
    for job in handles:
        assert client.wait(job, timeout=60, poll=0.2).state is JobState.COMPLETED

    batches = {row.batch_id for job in handles if (row := outbox.get(str(job.id)))}
    assert len(batches) < len(handles)  # coalesced within the relay's linger window
