"""The relay against the real server: a relay that dies mid-hand-over loses and doubles nothing."""

from __future__ import annotations

from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.client.schemas.objects import FlowRun
from sqlalchemy import Engine

from jobs import outbox, registry
from jobs.aio import run_sync
from jobs.client import Client
from jobs.db.engine import session
from jobs.db.models import QueueState
from jobs.relay import Relay


async def batch_runs(prefect: PrefectClient, batch_id: str) -> list[FlowRun]:
    name = registry.job_type("ping").batch_deployment_name
    deployment = await prefect.read_deployment_by_name(name)
    runs = await prefect.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
        limit=200,
    )
    return [run for run in runs if run.parameters.get("batch") == batch_id]


def test_a_relay_killed_between_creating_a_run_and_marking_its_jobs(
    client: Client, engine: Engine
) -> None:
    url = str(engine.url)  # an outbox of the test's own: only its jobs are relayed
    own = Client(client.settings.model_copy(update={"database_url": url}))
    handles = own.submit_many("ping", [{"note": f"relay {i}"} for i in range(5)], priority=3)
    ids = {str(job.id) for job in handles}

    async def go() -> tuple[str, UUID, list[FlowRun]]:
        async with PrefectClient(own.settings.api_url) as prefect:
            dying = Relay(prefect, own.settings)
            assert dying.pack(linger=False)
            with session(url) as db:
                [(batch_id, rows)] = [
                    (batch, rows)
                    for batch, rows in outbox.assigned(db).items()
                    if {row.id for row in rows} & ids
                ]
            first = await dying.create_run(batch_id, rows)  # ... and it dies here
            assert {row.id for row in rows} == ids
            restarted = Relay(prefect, own.settings)
            await restarted.round()
            return batch_id, first, await batch_runs(prefect, batch_id)

    batch_id, first, runs = run_sync(go())

    assert [run.id for run in runs] == [first]  # the run was not created twice
    for job_id in ids:
        row = outbox.get(job_id, url)
        assert row is not None
        assert (row.state, row.batch_id, row.run_id) == (
            QueueState.DISPATCHED,
            batch_id,
            str(first),
        )
