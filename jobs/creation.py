"""Creating the flow runs of submitted jobs: one request for one job, bulk requests for many."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import DeploymentFlowRunCreate
from prefect.states import Scheduled, to_state_create

BULK_LIMIT = 50
"""Flow runs per bulk request (Prefect accepts up to 100); each holds SQLite's write lock."""
_ATTEMPTS = 4
_BACKOFF = 0.1


def run_create(
    params: dict[str, Any], key: str | None, when: datetime | None, tags: list[str], queue: str
) -> DeploymentFlowRunCreate:
    """The request body that creates one job's flow run (Scheduled, due at ``when`` or now)."""
    return DeploymentFlowRunCreate(
        parameters={"params": params},
        enforce_parameter_schema=False,  # validated already, by the job type's model
        state=to_state_create(Scheduled(scheduled_time=when)),
        idempotency_key=key,
        tags=tags,
        work_queue_name=queue,
    )


async def create_runs(
    client: PrefectClient,
    deployment_id: UUID,
    creates: Sequence[DeploymentFlowRunCreate],
    concurrency: int,
) -> list[UUID]:
    """Create the runs in order; bulk requests of up to ``BULK_LIMIT``, ``concurrency`` at once."""
    if len(creates) == 1:
        return [await _create_one(client, deployment_id, creates[0])]
    keyed = [_keyed(create) for create in creates]
    gate = asyncio.Semaphore(concurrency)

    async def chunk(start: int) -> list[UUID]:
        async with gate:
            return await _create_chunk(client, deployment_id, keyed[start : start + BULK_LIMIT])

    chunks = await asyncio.gather(*(chunk(i) for i in range(0, len(keyed), BULK_LIMIT)))
    return [run_id for ids in chunks for run_id in ids]


def _keyed(create: DeploymentFlowRunCreate) -> DeploymentFlowRunCreate:
    """The create with an idempotency key (a fresh one if it had none), so resending is safe."""
    if create.idempotency_key is not None:
        return create
    return create.model_copy(update={"idempotency_key": f"submit-{uuid4()}"})


async def _create_chunk(
    client: PrefectClient, deployment_id: UUID, creates: Sequence[DeploymentFlowRunCreate]
) -> list[UUID]:
    """One bulk request, resent whole while any run in it failed; then one by one.

    On SQLite a bulk request whose first write loses a race with another writer ("database is
    locked") fails as a whole, and a failure later in the request can undo runs the response
    reports as created. Every run carries an idempotency key, so resending creates only what
    is missing and returns every run's id. Under sustained write load the bulk request can keep
    losing; the runs still missing then go one request each, which Prefect's client retries.
    """
    for attempt in range(_ATTEMPTS):
        results = await _create_bulk(client, deployment_id, creates)
        if all(result["status"] == "CREATED" for result in results):
            return [UUID(result["flow_run_id"]) for result in results]
        await asyncio.sleep(_BACKOFF * 2**attempt * (1 + random.random()))
    return [await _create_one(client, deployment_id, create) for create in creates]


async def _create_one(
    client: PrefectClient, deployment_id: UUID, create: DeploymentFlowRunCreate
) -> UUID:
    response = await client.request(
        "POST",
        "/deployments/{id}/create_flow_run",
        path_params={"id": deployment_id},
        json=create.model_dump(mode="json", exclude_unset=True),
    )
    return UUID(response.json()["id"])


async def _create_bulk(
    client: PrefectClient, deployment_id: UUID, creates: Sequence[DeploymentFlowRunCreate]
) -> list[dict[str, Any]]:
    response = await client.request(
        "POST",
        "/deployments/{id}/create_flow_run/bulk",  # type: ignore[arg-type]  # not in the typed list
        path_params={"id": deployment_id},
        json=[create.model_dump(mode="json", exclude_unset=True) for create in creates],
    )
    results: list[dict[str, Any]] = response.json()["results"]
    return results
