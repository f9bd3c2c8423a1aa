"""The warm worker's scheduling core (jobs/worker/runner.py), tick by tick, on the real server.

Each test builds a ``WarmWorker`` in the test process and calls ``tick()`` (or ``_take()``)
itself. The worker serves a work pool of its own, with the priority queues and queue limits of
deployments/pool.py, that no other worker of the session serves; its runs are real flow runs of
tests/support/flows.py, forked from its forkserver. After each test the worker's run processes
are killed (its drain, with no time to wait) and every run left in the pool is cancelled.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.actions import DeploymentUpdate
from prefect.client.schemas.filters import WorkPoolFilter, WorkPoolFilterName
from prefect.client.schemas.objects import State, StateType
from prefect.events import Event
from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter
from prefect.states import Cancelled, Scheduled

from deployments.pool import apply_queues
from jobs.client import Client
from jobs.worker.heartbeats import HEARTBEAT
from jobs.worker.runner import WarmWorker
from tests.support.polling import until
from tests.support.stack import Stack

POOL = f"core-{uuid4().hex[:8]}"
ROOT = Path(__file__).resolve().parents[2]
NAP = "tests/support/flows.py:nap"
TIMED_NAP = "tests/support/flows.py:timed_nap"  # time limit 300 s: planned 310 s
BROKEN = "tests/support/flows.py:no_such_flow"
DEFAULT_LIMIT = 1000  # the workers' time limit of flows that set none
ENDED = {StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED}

MakeWorker = Callable[..., WarmWorker]


@pytest.fixture(scope="module")
async def pool(prefect_server: Stack) -> str:
    """A work pool with the declared priority queues (priority-10 limited to two at once).

    Only the pool and queues of deployments.pool: its apply also declares the automations, which
    exist once per server and would then watch this pool instead of the session's.
    """
    async with get_client() as prefect:
        await apply_queues(prefect, POOL)
    return POOL


@pytest.fixture
async def prefect(pool: str) -> AsyncIterator[PrefectClient]:
    async with get_client() as client:
        yield client
        await cancel_leftovers(client)


@pytest.fixture
async def workers(prefect: PrefectClient) -> AsyncIterator[MakeWorker]:
    """Makes warm workers of the pool; kills their run processes afterwards."""
    made: list[WarmWorker] = []

    def make(**options: Any) -> WarmWorker:
        options = {"drain_seconds": 0, "default_time_limit": DEFAULT_LIMIT, **options}
        worker = WarmWorker(prefect, POOL, name=f"core-{uuid4().hex[:8]}", **options)
        made.append(worker)
        return worker

    yield make
    for worker in made:
        worker.stop_now.set()
        await worker._drain()


async def cancel_leftovers(prefect: PrefectClient) -> None:
    """Cancel every run of the pool that has not ended, so nothing runs it again later."""
    pool = WorkPoolFilter(name=WorkPoolFilterName(any_=[POOL]))
    for run in await prefect.read_flow_runs(work_pool_filter=pool):
        if run.state is None or run.state.type not in ENDED:
            await prefect.set_flow_run_state(run.id, Cancelled(message="test done"), force=True)


async def deployment(
    prefect: PrefectClient, entrypoint: str = NAP, concurrency_limit: int | None = None
) -> UUID:
    """A deployment of a tests/support flow in the pool, as ``prefect deploy`` makes them."""
    flow_id = await prefect.create_flow_from_name(f"test-core-{uuid4().hex[:8]}")
    return await prefect.create_deployment(
        flow_id=flow_id,
        name="core",
        entrypoint=entrypoint,
        work_pool_name=POOL,
        work_queue_name="priority-5",
        pull_steps=[{"prefect.deployments.steps.set_working_directory": {"directory": str(ROOT)}}],
        concurrency_limit=concurrency_limit,
    )


async def submit(
    prefect: PrefectClient,
    deployment_id: UUID,
    queue: str = "priority-5",
    state: State[Any] | None = None,
    parameters: dict[str, Any] | None = None,
) -> UUID:
    """A run of the deployment in ``queue``, due now (or in ``state``); a nap lasts 600 s."""
    run = await prefect.create_flow_run_from_deployment(
        deployment_id,
        parameters={"seconds": 600} if parameters is None else parameters,
        work_queue_name=queue,
        state=state,
    )
    return run.id


async def state_of(prefect: PrefectClient, run_id: UUID) -> State[Any]:
    state = (await prefect.read_flow_run(run_id)).state
    assert state is not None
    return state


async def claims(prefect: PrefectClient, run_id: UUID) -> list[str]:
    """The messages of the run's Pending states: a worker's claims of it."""
    states = await prefect.read_flow_run_states(run_id)
    return [s.message or "" for s in states if s.type is StateType.PENDING]


def time_limit(worker: WarmWorker, run_id: UUID) -> float:
    """The time limit the worker gave the run's process, in whole seconds."""
    process = worker.running[run_id]
    return round(process.deadline - process.started)


async def test_one_free_slot_takes_the_most_urgent_due_run_first(
    prefect: PrefectClient, workers: MakeWorker
) -> None:
    nap = await deployment(prefect)
    low = await submit(prefect, nap, "priority-10")
    normal = await submit(prefect, nap, "priority-5")
    urgent = await submit(prefect, nap, "priority-1")  # due last, yet most urgent
    worker, other = workers(limit=1), workers(limit=1)

    await worker.tick()

    assert list(worker.running) == [urgent]
    assert await claims(prefect, urgent) == [f"claimed by worker {worker.name}"]
    assert (await state_of(prefect, normal)).type is StateType.SCHEDULED
    assert (await state_of(prefect, low)).type is StateType.SCHEDULED

    await other.tick()

    assert list(other.running) == [normal]
    assert await claims(prefect, normal) == [f"claimed by worker {other.name}"]
    assert await claims(prefect, low) == []


async def test_a_worker_claims_no_more_runs_than_its_limit(
    prefect: PrefectClient, workers: MakeWorker
) -> None:
    nap = await deployment(prefect)
    runs = [await submit(prefect, nap) for _ in range(4)]
    worker = workers(limit=2)

    await worker.tick()
    await worker._take(worker.limit)  # polling again while full takes nothing either

    assert list(worker.running) == runs[:2]  # first due, first taken
    for run_id in runs[2:]:
        assert (await state_of(prefect, run_id)).type is StateType.SCHEDULED
        assert await claims(prefect, run_id) == []


async def test_the_low_priority_queue_limit_holds(
    prefect: PrefectClient, workers: MakeWorker
) -> None:
    nap = await deployment(prefect)
    runs = [await submit(prefect, nap, "priority-10") for _ in range(4)]
    worker = workers(limit=4)

    await worker.tick()
    await worker._take(worker.limit - len(worker.running))

    assert list(worker.running) == runs[:2]  # priority-10 runs at most two at once
    for run_id in runs[2:]:
        assert await claims(prefect, run_id) == []


async def test_a_deployment_concurrency_limit_holds(
    prefect: PrefectClient, workers: MakeWorker
) -> None:
    limited = await deployment(prefect, concurrency_limit=1)
    runs = [await submit(prefect, limited) for _ in range(3)]
    worker = workers(limit=4)

    await worker.tick()

    assert list(worker.running) == runs[:1]
    for run_id in runs[1:]:  # the server refused the claims: they wait for the slot
        state = await state_of(prefect, run_id)
        assert state.type is StateType.SCHEDULED and state.name == "AwaitingConcurrencySlot"


async def test_a_run_not_yet_due_is_not_taken(prefect: PrefectClient, workers: MakeWorker) -> None:
    nap = await deployment(prefect)
    later: State[Any] = Scheduled(scheduled_time=datetime.now(UTC) + timedelta(hours=1))
    future = await submit(prefect, nap, "priority-1", state=later)
    due = await submit(prefect, nap, "priority-10")
    worker = workers(limit=4)

    await worker.tick()

    assert list(worker.running) == [due]
    assert (await state_of(prefect, future)).type is StateType.SCHEDULED
    assert await claims(prefect, future) == []


async def test_a_run_that_cannot_start_is_crashed_and_frees_its_slot(
    prefect: PrefectClient, workers: MakeWorker
) -> None:
    broken = await submit(prefect, await deployment(prefect, BROKEN), "priority-1")
    fine = await submit(prefect, await deployment(prefect), "priority-5")
    worker = workers(limit=1)

    await worker.tick()

    state = await state_of(prefect, broken)
    assert state.type is StateType.CRASHED
    assert f"the worker {worker.name} could not start it" in (state.message or "")
    assert "no_such_flow" in (state.message or "")
    assert list(worker.running) == [fine]  # the one slot went to the next due run
    assert list(worker.held) == [fine]


async def test_the_launch_plan_is_read_again_once_it_has_expired(
    prefect: PrefectClient, workers: MakeWorker
) -> None:
    changing = await deployment(prefect, NAP)
    expired, kept = workers(limit=2, plan_seconds=0), workers(limit=2, plan_seconds=3600)
    for worker in (expired, kept):
        run_id = await submit(prefect, changing)
        await worker.tick()
        assert time_limit(worker, run_id) == DEFAULT_LIMIT  # nap sets no time limit

    await prefect.update_deployment(changing, DeploymentUpdate(entrypoint=TIMED_NAP))
    first, second = await submit(prefect, changing), await submit(prefect, changing)
    await expired._take(1)
    await kept._take(1)

    assert time_limit(expired, first) == 310  # timed_nap's 300 s, and 10 s of grace
    assert time_limit(kept, second) == DEFAULT_LIMIT  # its plan is still the old one


async def test_a_claimed_run_is_reported_alive_by_the_worker(
    prefect: PrefectClient, workers: MakeWorker
) -> None:
    run_id = await submit(prefect, await deployment(prefect))
    worker = workers(limit=1, heartbeat_seconds=600)  # reported at the claim, then not soon
    found: list[Event] = []

    await worker.tick()

    async def stored() -> bool:  # the server writes events to its store in batches
        nonlocal found
        heartbeats = EventFilter(  # made anew: it covers events up to when it is made
            event=EventNameFilter(name=[HEARTBEAT]),
            resource=EventResourceFilter(id=[f"prefect.flow-run.{run_id}"]),
        )
        found = list((await prefect.read_events(filter=heartbeats, limit=10)).events)
        return bool(found)

    await until(stored, 60, "the run's heartbeat is in the event store")
    assert [event.payload["worker"] for event in found] == [worker.name]
    roles = {r.role: r.name for r in found[0].related}
    assert roles.get("worker") == worker.name
    assert roles.get("work-pool") == POOL


async def test_a_run_whose_process_dies_is_crashed_and_its_slot_reused(
    prefect: PrefectClient, workers: MakeWorker
) -> None:
    segfault = await deployment(prefect, "tests/support/flows.py:segfault")
    dies = await submit(prefect, segfault, parameters={})
    waiting = await submit(prefect, await deployment(prefect))
    worker = workers(limit=1)
    await worker.tick()
    assert list(worker.running) == [dies]

    async def reaped() -> bool:
        await worker.tick()
        return dies not in worker.running

    await until(reaped, 60, "the crashed run is reaped and its slot reused")

    state = await state_of(prefect, dies)
    assert state.type is StateType.CRASHED and "signal SIGSEGV" in (state.message or "")
    assert list(worker.running) == [waiting]  # the tick that reaped it filled the slot again


async def test_a_run_past_its_time_limit_is_killed_and_failed(
    prefect: PrefectClient, workers: MakeWorker
) -> None:
    run_id = await submit(prefect, await deployment(prefect))  # naps 600 s
    worker = workers(limit=1, default_time_limit=1)  # nap sets no limit: it gets 1 s
    await worker.tick()
    process = worker.running[run_id]

    async def timed_out() -> bool:
        await worker.tick()
        return run_id not in worker.running

    await until(timed_out, 60, "the run past its time limit is killed")

    assert process.exitcode is not None  # killed, not merely forgotten
    state = await state_of(prefect, run_id)
    assert state.type is StateType.FAILED and state.name == "TimedOut"
    assert "killed after its time limit of 1 s" in (state.message or "")


async def test_a_running_run_that_is_cancelled_is_stopped(
    prefect: PrefectClient, workers: MakeWorker, prefect_server: Stack
) -> None:
    run_id = await submit(prefect, await deployment(prefect))  # naps 600 s
    worker = workers(limit=1)
    await worker.tick()
    process = worker.running[run_id]

    async def running() -> bool:
        return (await state_of(prefect, run_id)).type is StateType.RUNNING

    await until(running, 60, "the run is running")
    await Client(prefect_server.settings).cancel_async(run_id)

    async def stopped() -> bool:
        await worker.tick()
        return run_id not in worker.running

    await until(stopped, 60, "the cancelled run is stopped")

    assert process.exitcode is not None
    state = await state_of(prefect, run_id)
    assert state.type is StateType.CANCELLED
    assert "the worker stopped its process" in (state.message or "")
