"""Faults in the batched lane, for real: a worker SIGKILLed mid-batch, a relay SIGKILLed again
and again while jobs stream in. Counted afterwards: lost, doubled, stuck.

The session's worker and relay step aside; these run with short heartbeat and detection
settings (as in test_worker_loss), so a lost batch is found in seconds.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.client.schemas.objects import FlowRun, StateType

from jobs import outbox, registry, services
from jobs.aio import run_sync
from jobs.client import Client
from jobs.db.models import EffectStatus, QueueState
from jobs.ledger import status_of
from jobs.status import Job, JobState
from tests.support.cluster import FAST as CLUSTER_FAST
from tests.support.cluster import Cluster
from tests.support.emails import unique_address, welcome
from tests.support.polling import wait_until
from tests.support.smtp import Recorder
from tests.support.stack import Stack

FAST = {**CLUSTER_FAST, "recovery_max_reruns": 3, "batch_size": 500}


@pytest.fixture
def processes(stack: Stack) -> Iterator[Cluster]:
    stack.stop_worker()
    stack.stop_relay()
    own = Cluster(stack.settings.model_copy(update=FAST))
    try:
        yield own
    finally:
        services.stop(own.processes)
        stack.start_worker(limit=1)
        stack.start_relay()


def batch_runs(job_type: str) -> list[FlowRun]:
    async def go() -> list[FlowRun]:
        async with get_client() as prefect:
            name = registry.job_type(job_type).batch_deployment_name
            deployment = await prefect.read_deployment_by_name(name)
            found = DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
            return await prefect.read_flow_runs(deployment_filter=found, limit=200)

    return run_sync(go())


def all_final(client: Client, handles: list[Job]) -> bool:
    return all(
        (row := outbox.get(str(job.id))) is not None
        and row.state in (QueueState.COMPLETED, QueueState.FAILED, QueueState.CANCELLED)
        for job in handles
    )


def test_a_worker_killed_mid_batch_sends_no_email_twice_and_strands_nothing(
    processes: Cluster, client: Client, smtp: Recorder
) -> None:
    doomed = processes.worker("doomed", limit=2)
    processes.relay()
    addresses = [unique_address() for _ in range(500)]

    handles = client.submit_many("email", [welcome(address) for address in addresses])
    wait_until(lambda: len(smtp.messages) >= 150, 180, "150 of the 500 emails delivered")
    doomed.kill()
    doomed.wait()
    delivered_at_kill = len(smtp.messages)
    processes.worker("replacement", limit=2)
    wait_until(lambda: all_final(client, handles), 300, "every job of the batch is final")

    rows = {str(job.id): outbox.get(str(job.id)) for job in handles}
    ledger = status_of(list(rows))
    sent = Counter(address for address in addresses for _ in smtp.to(address))
    assert max(sent.values()) == 1  # no email twice
    assert delivered_at_kill < 500  # the kill did land mid-batch
    unsent = []
    for job_id, address in zip(rows, addresses, strict=True):
        row = rows[job_id]
        assert row is not None
        if row.state == QueueState.COMPLETED:
            assert sent[address] == 1 and ledger[job_id] is EffectStatus.DONE
        else:  # cut short mid-send by the kill: not sent again, as the ledger promises
            assert row.state == QueueState.FAILED
            assert "stopped mid-send" in (row.failure_reason or "")
            assert ledger[job_id] is EffectStatus.PENDING  # its outcome is unknown
            unsent.append(address)  # delivered before the kill, or not: at most once
    assert len(unsent) <= registry.job_type("email").batch_threads  # in flight at the kill
    [batch] = {row.run_id for row in rows.values() if row}
    runs = [run for run in batch_runs("email") if str(run.id) == batch]
    assert runs and runs[0].state is not None
    assert runs[0].state.type is StateType.COMPLETED  # re-run after the crash, finished
    assert runs[0].run_count >= 2


def test_a_relay_killed_again_and_again_loses_and_doubles_nothing(
    processes: Cluster, client: Client
) -> None:
    processes.worker("steady", limit=4)
    rng = random.Random(7)
    handles: list[Job] = []
    relay = processes.relay()
    for round_number in range(8):
        handles += client.submit_many(
            "ping", [{"note": f"relay-fault {round_number}-{i}"} for i in range(40)]
        )
        time.sleep(rng.uniform(0.2, 1.2))
        relay.kill()
        relay.wait()
        relay = processes.relay()
    wait_until(lambda: all_final(client, handles), 300, "every relayed job is final")

    rows = [outbox.get(str(job.id)) for job in handles]
    assert all(row is not None and row.state == QueueState.COMPLETED for row in rows)
    assert all(row is not None and row.attempts == 1 for row in rows)  # none run twice
    batches = Counter(run.parameters["batch"] for run in batch_runs("ping"))
    ours = {row.batch_id for row in rows if row}
    assert all(batches[batch] == 1 for batch in ours)  # one flow run per batch, never two
    statuses: dict[UUID, Any] = {job.id: client.status(job).state for job in handles[:5]}
    assert set(statuses.values()) == {JobState.COMPLETED}
