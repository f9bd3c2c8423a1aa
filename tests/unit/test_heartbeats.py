"""The warm worker's flow-run heartbeats: one event per held run, none from the run processes."""

from __future__ import annotations

from uuid import uuid4

import prefect.flow_engine
from prefect.client.schemas.objects import FlowRun

from jobs.worker import heartbeats


def test_a_heartbeat_names_the_run_its_worker_deployment_and_pool() -> None:
    run = FlowRun(
        id=uuid4(),
        flow_id=uuid4(),
        name="brave-otter",
        deployment_id=uuid4(),
        work_pool_id=uuid4(),
        work_pool_name="jobs",
    )

    event = heartbeats.heartbeat(run, "warm-1", 10)

    assert event.event == "prefect.flow-run.heartbeat"
    assert event.resource.id == f"prefect.flow-run.{run.id}"
    assert event.resource.name == "brave-otter"
    related = {r.role: r.id for r in event.related}
    assert related == {
        "worker": "prefect.worker.warm.warm-1",
        "deployment": f"prefect.deployment.{run.deployment_id}",
        "work-pool": f"prefect.work-pool.{run.work_pool_id}",
    }
    assert event.payload == {"worker": "warm-1", "interval_seconds": 10}


def test_a_run_without_deployment_or_pool_relates_only_to_its_worker() -> None:
    run = FlowRun(id=uuid4(), flow_id=uuid4(), name="x")

    event = heartbeats.heartbeat(run, "w", 5)

    assert [r.role for r in event.related] == ["worker"]


def test_install_turns_the_engines_heartbeats_off() -> None:
    original = prefect.flow_engine._send_heartbeats
    try:
        heartbeats.install()

        with prefect.flow_engine._send_heartbeats(object()):
            pass

        assert prefect.flow_engine._send_heartbeats is heartbeats._none
    finally:
        prefect.flow_engine._send_heartbeats = original
