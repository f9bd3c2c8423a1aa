"""Bulk submission of flow-lane jobs on the real server: Prefect's bulk endpoint, chunked,
ordered, resendable."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
from prefect.client.schemas.objects import FlowRun

from jobs import creation
from jobs.client import Client
from jobs.errors import InvalidJobParams
from jobs.registry import JOB_TYPES
from jobs.status import JobState
from tests.support.runs import discard

PING = JOB_TYPES["ping"]


def forget(client: Client, ids: list[UUID]) -> None:
    async def run() -> None:
        async with PrefectClient(client.settings.api_url) as prefect:
            await discard(prefect, ids)

    asyncio.run(run())


def tagged(client: Client, tag: str) -> int:
    async def run() -> int:
        async with PrefectClient(client.settings.api_url) as prefect:
            return await prefect.count_flow_runs(
                flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[tag]))
            )

    return asyncio.run(run())


def test_many_jobs_in_several_bulk_requests_keep_their_order(client: Client) -> None:
    notes = [f"bulk-{n}" for n in range(creation.BULK_LIMIT + 7)]  # two requests
    run_at = datetime.now(UTC) + timedelta(days=1)

    jobs = client.submit_many(
        "ping",
        [{"note": n} for n in notes],
        run_at=run_at,
        priority=3,
        tags=["bulk-order"],
        lane="flow",
    )

    try:
        assert len({job.id for job in jobs}) == len(notes)
        assert tagged(client, "bulk-order") == len(notes)
        for index in (0, creation.BULK_LIMIT, len(notes) - 1):
            status = client.status(jobs[index])
            assert status.params == {"note": notes[index], "seconds": 0.0, "fail": False}
            assert status.state is JobState.DELAYED
            assert status.priority == 3
            assert status.scheduled_at == run_at
            assert {"bulk-order", "job:ping"} <= set(status.tags)  # plus the deployment's
    finally:
        forget(client, [job.id for job in jobs])


def test_idempotency_keys_make_a_resubmitted_batch_add_nothing(client: Client) -> None:
    keys = [f"bulk-key-{n}-{datetime.now(UTC).timestamp()}" for n in range(5)]
    params = [{"note": key} for key in keys]

    options = {"delay": 3600, "idempotency_keys": keys, "tags": ["bulk-k"], "lane": "flow"}
    first = client.submit_many("ping", params, **options)  # type: ignore[arg-type]
    again = client.submit_many("ping", params, **options)  # type: ignore[arg-type]

    try:
        assert [job.id for job in again] == [job.id for job in first]
        assert tagged(client, "bulk-k") == 5
    finally:
        forget(client, [job.id for job in first])


def test_resending_a_bulk_request_creates_nothing_twice(client: Client) -> None:
    """What the client does after losing a write race: send the same keyed chunk again."""
    when = datetime.now(UTC) + timedelta(days=1)
    creates = [
        creation.run_create({"note": str(n)}, None, when, ["bulk-resend"], "priority-5")
        for n in range(3)
    ]
    keyed = [creation._keyed(create) for create in creates]

    async def twice() -> tuple[list[UUID], list[UUID]]:
        async with PrefectClient(client.settings.api_url) as prefect:
            deployment = await prefect.read_deployment_by_name("ping/ping")
            first = await creation._create_chunk(prefect, deployment.id, keyed)
            second = await creation._create_chunk(prefect, deployment.id, keyed)
            return first, second

    first, second = asyncio.run(twice())

    try:
        assert first == second
        assert tagged(client, "bulk-resend") == 3
    finally:
        forget(client, first)


def test_a_bad_batch_is_refused_whole_before_anything_is_sent(client: Client) -> None:
    params = [{"note": "fine"}, {"note": "x" * 10_000}]

    with pytest.raises(InvalidJobParams, match=r"#1"):
        client.submit_many("ping", params, tags=["bulk-refused"], lane="flow")

    assert tagged(client, "bulk-refused") == 0


def runs_of(client: Client, ids: list[UUID]) -> list[FlowRun]:
    async def run() -> list[FlowRun]:
        async with PrefectClient(client.settings.api_url) as prefect:
            return [await prefect.read_flow_run(run_id) for run_id in ids]

    return asyncio.run(run())


def test_valid_options_of_a_submit_reach_the_server_as_given(client: Client) -> None:
    run_at = datetime(2031, 5, 17, 9, 30, tzinfo=UTC)
    key = f"welcome-{uuid4()}"

    job = client.submit(
        "ping", {}, priority=1, run_at=run_at, idempotency_key=key, tags=("b", "a"), lane="flow"
    )

    [run] = runs_of(client, [job.id])
    forget(client, [job.id])
    assert job.job_type == "ping"
    assert run.work_queue_name == "priority-1"
    assert run.idempotency_key == key
    assert set(run.tags) == {"a", "b", "job:ping", *PING.tags}  # and the deployment's
    assert run.next_scheduled_start_time == run_at


def test_valid_options_of_a_batch_reach_the_server_as_given(client: Client) -> None:
    keys = tuple(f"k{i}-{uuid4()}" for i in range(3))
    before = datetime.now(UTC)

    jobs = client.submit_many(
        "ping",
        ({"note": "a"}, {"note": "b"}, {"note": "c"}),
        delay=timedelta(hours=1),
        idempotency_keys=keys,
        tags={"bulk-options"},
        lane="flow",
    )

    runs = runs_of(client, [job.id for job in jobs])
    forget(client, [job.id for job in jobs])
    assert [run.idempotency_key for run in runs] == list(keys)
    assert all(set(run.tags) == {"bulk-options", "job:ping", *PING.tags} for run in runs)
    assert all(run.work_queue_name == "priority-5" for run in runs)
    for run in runs:
        assert run.next_scheduled_start_time is not None
        assert run.next_scheduled_start_time >= before + timedelta(hours=1)
