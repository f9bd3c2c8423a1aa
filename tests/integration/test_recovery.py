"""The recovery service against the real server: lost jobs are crashed (or cancelled), crashed
jobs are re-run with back-off up to their limit, then failed; cancel and retry always work.

The runs live in a work pool of their own that no worker serves, and the tests act as the
worker: they claim runs, start them and send (or stop sending) their heartbeats.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.objects import FlowRun, State, StateType
from prefect.states import Crashed, Pending, Running

from jobs import history
from jobs.client import Client
from jobs.history import GAVE_UP
from jobs.settings import Settings
from jobs.worker import heartbeats
from jobs.worker.recovery import Recovery, Sweep
from tests.support.polling import until
from tests.support.stack import Stack

POOL = f"recovery-{uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def quick(prefect_server: Stack) -> Settings:
    """Settings of a recovery service that judges fast, on a pool no worker serves."""
    return prefect_server.settings.model_copy(
        update={
            "work_pool": POOL,
            "worker_heartbeat_seconds": 0.5,
            "zombie_after_seconds": 2.0,
            "recovery_backoff_seconds": 1.0,
            "recovery_max_reruns": 2,
            "recovery_max_reruns_by_type": {"fragile": 0},
        }
    )


@pytest.fixture
async def prefect(quick: Settings) -> AsyncIterator[PrefectClient]:
    async with get_client() as client:
        if not [pool for pool in await client.read_work_pools() if pool.name == POOL]:
            await client.create_work_pool(WorkPoolCreate(name=POOL, type="process"))
        yield client


async def deployment(prefect: PrefectClient, limit: int | None = None) -> UUID:
    flow_id = await prefect.create_flow_from_name(f"test-recovery-{uuid4().hex[:8]}")
    return await prefect.create_deployment(
        flow_id=flow_id, name="lost", work_pool_name=POOL, concurrency_limit=limit
    )


async def run_in(
    prefect: PrefectClient, deployment_id: UUID, *states: State[Any], **kw: Any
) -> FlowRun:
    """A run of the deployment, taken through ``states`` as a worker would (orchestrated)."""
    run = await prefect.create_flow_run_from_deployment(deployment_id, **kw)
    for state in states:
        result = await prefect.set_flow_run_state(run.id, state)
        assert result.state is not None and result.state.type is state.type, result
    return await prefect.read_flow_run(run.id)


async def sweep_until(recovery: Recovery, done: Any, what: str, seconds: float = 90) -> list[Sweep]:
    """Sweep every 0.25 s until ``done(sweeps)`` (``what`` says what that is); the sweeps made."""
    sweeps: list[Sweep] = []

    async def check() -> bool:
        sweeps.append(await recovery.sweep())
        return bool(done(sweeps))

    await until(check, seconds, what)
    return sweeps


async def state_of(prefect: PrefectClient, run_id: UUID) -> State[Any]:
    state = (await prefect.read_flow_run(run_id)).state
    assert state is not None
    return state


async def test_a_running_job_without_heartbeats_is_crashed_and_frees_its_slot(
    prefect: PrefectClient, quick: Settings
) -> None:
    deployment_id = await deployment(prefect, limit=1)
    run = await run_in(prefect, deployment_id, Pending(), Running())
    limit = await prefect.read_global_concurrency_limit_by_name(f"deployment:{deployment_id}")
    assert limit.active_slots == 1
    recovery = Recovery(prefect, quick)

    await sweep_until(recovery, lambda sweeps: run.id in sweeps[-1].lost, "a sweep finds it lost")

    history_ = await prefect.read_flow_run_states(run.id)
    crashed = [state for state in history_ if state.type is StateType.CRASHED]
    assert len(crashed) == 1
    assert "no worker has reported it alive" in (crashed[0].message or "")
    limit = await prefect.read_global_concurrency_limit_by_name(f"deployment:{deployment_id}")
    assert limit.active_slots == 0  # released by the transition, not by the lease running out


async def test_a_job_whose_worker_sends_heartbeats_is_left_alone(
    prefect: PrefectClient, quick: Settings
) -> None:
    run = await run_in(prefect, await deployment(prefect), Pending(), Running())
    recovery = Recovery(prefect, quick)

    async def beat_and_sweep(sweeps: list[Sweep]) -> bool:
        return sum(run.id in sweep.judged for sweep in sweeps) >= 3

    async def check() -> bool:
        event = heartbeats.heartbeat(run, "steady", 0.5).model_dump(mode="json")
        (await prefect.request("POST", "/events", json=[event])).raise_for_status()
        sweep = await recovery.sweep()
        assert run.id not in sweep.lost
        sweeps.append(sweep)
        return await beat_and_sweep(sweeps)

    sweeps: list[Sweep] = []
    await until(check, 90, "three sweeps judged the run")

    assert (await state_of(prefect, run.id)).type is StateType.RUNNING
    await prefect.set_flow_run_state(run.id, Crashed(), force=True)  # tidy: nobody runs it
    await prefect.delete_flow_run(run.id)


async def test_a_claimed_job_whose_worker_died_is_crashed_then_run_again(
    prefect: PrefectClient, quick: Settings
) -> None:
    run = await run_in(prefect, await deployment(prefect), Pending(message="claimed by worker w"))
    recovery = Recovery(prefect, quick)

    await sweep_until(recovery, lambda sweeps: run.id in sweeps[-1].rerun, "a sweep re-runs it")

    state = await state_of(prefect, run.id)
    assert state.type is StateType.SCHEDULED and state.name == "AwaitingRetry"
    assert (state.message or "").startswith(f"{history.RERUN}: re-run 1 of 2")
    states = sorted(await prefect.read_flow_run_states(run.id), key=lambda s: s.timestamp)
    [crash] = [s for s in states if s.type is StateType.CRASHED]
    assert state.state_details.scheduled_time is not None
    assert state.state_details.scheduled_time >= crash.timestamp  # after the back-off
    status = await Client(quick).status_async(run.id)
    assert status.recoveries == [crash.message]
    assert status.prefect_state == "AwaitingRetry"


async def test_cancelling_a_job_whose_worker_is_gone_ends_cancelled(
    prefect: PrefectClient, quick: Settings
) -> None:
    run = await run_in(prefect, await deployment(prefect), Pending(), Running())
    await Client(quick).cancel_async(run.id)
    assert (await state_of(prefect, run.id)).type is StateType.CANCELLING
    recovery = Recovery(prefect, quick)

    await sweep_until(recovery, lambda sweeps: run.id in sweeps[-1].lost, "a sweep finds it lost")

    state = await state_of(prefect, run.id)
    assert state.type is StateType.CANCELLED
    assert "no worker has reported it alive" in (state.message or "")


async def test_a_job_that_keeps_crashing_is_failed_after_its_re_runs(
    prefect: PrefectClient, quick: Settings
) -> None:
    run = await run_in(prefect, await deployment(prefect), tags=["job:sturdy"])
    recovery = Recovery(prefect, quick)

    for attempt in range(3):
        await prefect.set_flow_run_state(
            run.id, Crashed(message=f"signal SIGKILL #{attempt}"), force=True
        )
        sweep = await recovery.sweep()
        assert (run.id in sweep.rerun) is (attempt < 2)

    state = await state_of(prefect, run.id)
    assert state.type is StateType.FAILED and state.name == GAVE_UP
    assert "crashed 3 times" in (state.message or "")
    assert "at most 2 automatic re-runs for sturdy jobs" in (state.message or "")
    assert "signal SIGKILL #2" in (state.message or "")
    assert len((await Client(quick).status_async(run.id)).recoveries) == 2

    await Client(quick).retry_async(run.id)  # a retry starts the allowance afresh
    await prefect.set_flow_run_state(run.id, Crashed(message="again"), force=True)
    assert run.id in (await recovery.sweep()).rerun


async def test_the_re_run_limit_is_per_job_type(prefect: PrefectClient, quick: Settings) -> None:
    run = await run_in(prefect, await deployment(prefect), tags=["job:fragile"])
    await prefect.set_flow_run_state(run.id, Crashed(message="out of memory"), force=True)

    sweep = await Recovery(prefect, quick).sweep()

    assert run.id in sweep.failed
    state = await state_of(prefect, run.id)
    assert state.name == GAVE_UP and "at most 0 automatic re-runs" in (state.message or "")


async def test_cancel_of_a_claimed_job_ends_it_at_once(
    prefect: PrefectClient, quick: Settings
) -> None:
    run = await run_in(prefect, await deployment(prefect, limit=1), Pending())

    await Client(quick).cancel_async(run.id)

    assert (await state_of(prefect, run.id)).type is StateType.CANCELLED


async def test_retry_of_a_crashed_job_runs_it_again(
    prefect: PrefectClient, quick: Settings
) -> None:
    run = await run_in(prefect, await deployment(prefect), Pending(), Running())
    await prefect.set_flow_run_state(run.id, Crashed(message="worker lost"), force=True)

    await Client(quick).retry_async(run.id)

    state = await state_of(prefect, run.id)
    assert state.type is StateType.SCHEDULED and state.message == history.MANUAL_RETRY
    assert state.state_details.scheduled_time is not None
    assert state.state_details.scheduled_time <= datetime.now(UTC)
