"""A worker killed outright strands nothing: real worker, recovery service, server and SMTP.

The session's worker steps aside; a worker and the recovery service run with short heartbeat
and detection settings, so each loss is found in seconds rather than the default ~45 s.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State, StateType

from deployments import automations
from jobs import services
from jobs.aio import run_sync
from jobs.client import Client
from jobs.db.models import EffectStatus
from jobs.history import GAVE_UP
from jobs.ledger import status_of
from jobs.settings import Settings
from jobs.status import JobState
from tests.support.cluster import FAST, Cluster
from tests.support.emails import unique_address, welcome
from tests.support.polling import wait_until
from tests.support.runs import read, submit
from tests.support.smtp import Recorder
from tests.support.stack import Stack


@pytest.fixture
def cluster(stack: Stack) -> Iterator[Cluster]:
    stack.stop_worker()
    cluster = Cluster(stack.settings.model_copy(update=FAST))
    try:
        yield cluster
    finally:
        services.stop(cluster.processes)
        stack.start_worker(limit=1)


def states(run_id: UUID) -> list[State[Any]]:
    async def go() -> list[State[Any]]:
        async with get_client() as prefect:
            found = await prefect.read_flow_run_states(run_id)
        return sorted(found, key=lambda state: state.timestamp)

    return run_sync(go())


def in_state(run_id: UUID, *types: StateType) -> bool:
    state = read(run_id).state
    return state is not None and state.type in types


def final(run_id: UUID) -> bool:
    state = read(run_id).state
    return state is not None and state.is_final()


def test_a_killed_worker_strands_nothing(cluster: Cluster, client: Client, smtp: Recorder) -> None:
    (cluster.settings.home / "slow-start").unlink(missing_ok=True)
    doomed = cluster.worker("doomed", limit=5)
    claimed = submit("test-slow-start/slow-start")  # its process blocks before it starts
    limited = submit("test-linger/linger-limited")  # holds the deployment's only slot
    running = submit("test-linger/linger")
    abandoned = submit("test-linger/linger")  # cancelled once its worker is gone
    addresses = [unique_address() for _ in range(8)]
    emails = [client.submit("email", welcome(address)) for address in addresses]
    wait_until(
        lambda: (cluster.settings.home / "slow-start").exists(),
        120,
        "the slow-start run is claimed",
    )
    wait_until(
        lambda: all(in_state(r, StateType.RUNNING) for r in (limited, running, abandoned)),
        120,
        "the three linger runs are running",
    )
    wait_until(
        lambda: any(client.status(job).state is JobState.COMPLETED for job in emails),
        120,
        "an email job completed",
    )
    assert in_state(claimed, StateType.PENDING)

    doomed.kill()
    doomed.wait()
    cluster.worker("replacement", limit=4)
    client.cancel(abandoned)
    newcomer = submit("test-linger/linger-limited", first_seconds=0.5)

    for run_id in (claimed, limited, running, abandoned, newcomer):
        wait_until(lambda run_id=run_id: final(run_id), 120, f"run {run_id} is final")
    for run_id in (claimed, limited, running):
        assert in_state(run_id, StateType.COMPLETED)
        history = states(run_id)
        crashes = [s for s in history if s.type is StateType.CRASHED]
        assert len(crashes) == 1, [(s.name, s.message) for s in history]
        [crash] = crashes
        assert "worker doomed stopped sending heartbeats" in (crash.message or "")
        status = client.status(run_id)
        assert status.recoveries == [crash.message]
    assert client.status(limited).attempts == 2
    assert in_state(abandoned, StateType.CANCELLED)
    assert in_state(newcomer, StateType.COMPLETED)

    # every email: sent once and Completed, or (killed mid-send) failed unsent-again: never twice
    for job in emails:
        wait_until(lambda job=job: client.status(job).state.is_final, 120, f"job {job.id} is final")
    ledger = status_of([str(job.id) for job in emails])
    for job, address in zip(emails, addresses, strict=True):
        status, sent = client.status(job), len(smtp.to(address))
        if ledger[str(job.id)] is EffectStatus.DONE:
            assert (status.state, sent) == (JobState.COMPLETED, 1)
        else:
            assert ledger[str(job.id)] is EffectStatus.PENDING and sent <= 1
            assert status.state is JobState.FAILED


def test_a_job_that_keeps_crashing_is_failed_and_alerted(
    cluster: Cluster, client: Client, smtp: Recorder
) -> None:
    cluster.worker("steady", limit=2)
    applied = run_sync(_apply_automations(cluster.settings))
    try:
        poison = submit("test-segfault/segfault")
        wait_until(
            lambda: final(poison) and read(poison).state.name == GAVE_UP,  # type: ignore[union-attr]
            120,
            f"the run is final as {GAVE_UP!r}",
        )
        subject = "keeps crashing"
        wait_until(
            lambda: any(subject in m["Subject"] for m in smtp.to(cluster.settings.alert_email)),
            120,
            f"a {subject!r} alert email arrived",
        )
    finally:
        run_sync(_delete_automations(applied))

    state = read(poison).state
    assert state is not None and state.type is StateType.FAILED
    assert "crashed 3 times" in (state.message or "")
    assert "SIGSEGV" in (state.message or "")
    assert len(client.status(poison).recoveries) == 2
    assert [s.type for s in states(poison)].count(StateType.CRASHED) == 3


async def _apply_automations(settings: Settings) -> list[str]:
    async with get_client() as prefect:
        return await automations.apply(prefect, settings)


async def _delete_automations(names: list[str]) -> None:
    async with get_client() as prefect:
        for name in names:
            for automation in await prefect.read_automations_by_name(name):
                await prefect.delete_automation(automation.id)
