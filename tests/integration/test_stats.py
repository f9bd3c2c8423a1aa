"""Queue statistics on the real server: each job counted once, in the state its status shows."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.objects import State
from prefect.states import Paused, Suspended

from jobs.client import Client
from jobs.status import Job, JobState
from tests.support.runs import discard


def forced(client: Client, job: Job, state: State[Any]) -> None:
    async def run() -> None:
        async with PrefectClient(client.settings.api_url) as prefect:
            await prefect.set_flow_run_state(job.id, state, force=True)

    asyncio.run(run())


def forget(client: Client, job: Job) -> None:
    async def run() -> None:
        async with PrefectClient(client.settings.api_url) as prefect:
            await discard(prefect, [job.id])

    asyncio.run(run())


@pytest.mark.parametrize("state", [Paused(), Suspended()], ids=lambda state: state.name)
def test_a_paused_job_is_counted_as_paused_as_its_status_says(
    client: Client, state: State[Any]
) -> None:
    # a flow run, which Prefect can pause; no worker takes it meanwhile
    job = client.submit("ping", {"note": "to pause"}, delay=3600, lane="flow")
    try:
        before = client.stats("ping")
        forced(client, job, state)

        after = client.stats("ping")

        assert client.status(job).state is JobState.PAUSED
        assert after.paused - before.paused == 1
        assert after.delayed - before.delayed == -1
        assert after.total == before.total  # counted once: not also as waiting
    finally:
        forget(client, job)
