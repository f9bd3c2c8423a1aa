"""Bulk submission on the real server: Prefect's bulk endpoint, chunked, ordered, resendable."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

from jobs import _submit
from jobs.client import Client
from jobs.errors import InvalidJobParams
from jobs.status import JobState
from tests.support.runs import discard


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
    notes = [f"bulk-{n}" for n in range(_submit.BULK_LIMIT + 7)]  # two requests
    run_at = datetime.now(UTC) + timedelta(days=1)

    jobs = client.submit_many(
        "ping", [{"note": n} for n in notes], run_at=run_at, priority=3, tags=["bulk-order"]
    )

    try:
        assert len({job.id for job in jobs}) == len(notes)
        assert tagged(client, "bulk-order") == len(notes)
        for index in (0, _submit.BULK_LIMIT, len(notes) - 1):
            status = client.status(jobs[index])
            assert status.params == {"note": notes[index]}
            assert status.state is JobState.DELAYED
            assert status.priority == 3
            assert status.scheduled_at == run_at
            assert {"bulk-order", "job:ping"} <= set(status.tags)  # plus the deployment's
    finally:
        forget(client, [job.id for job in jobs])


def test_idempotency_keys_make_a_resubmitted_batch_add_nothing(client: Client) -> None:
    keys = [f"bulk-key-{n}-{datetime.now(UTC).timestamp()}" for n in range(5)]
    params = [{"note": key} for key in keys]

    first = client.submit_many("ping", params, delay=3600, idempotency_keys=keys, tags=["bulk-k"])
    again = client.submit_many("ping", params, delay=3600, idempotency_keys=keys, tags=["bulk-k"])

    try:
        assert [job.id for job in again] == [job.id for job in first]
        assert tagged(client, "bulk-k") == 5
    finally:
        forget(client, [job.id for job in first])


def test_resending_a_bulk_request_creates_nothing_twice(client: Client) -> None:
    """What the client does after losing a write race: send the same keyed chunk again."""
    when = datetime.now(UTC) + timedelta(days=1)
    creates = [
        _submit.run_create({"note": str(n)}, None, when, ["bulk-resend"], "priority-5")
        for n in range(3)
    ]
    keyed = [_submit._keyed(create) for create in creates]

    async def twice() -> tuple[list[UUID], list[UUID]]:
        async with PrefectClient(client.settings.api_url) as prefect:
            deployment = await prefect.read_deployment_by_name("ping/ping")
            first = await _submit._create_chunk(prefect, deployment.id, keyed)
            second = await _submit._create_chunk(prefect, deployment.id, keyed)
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
        client.submit_many("ping", params, tags=["bulk-refused"])

    assert tagged(client, "bulk-refused") == 0
