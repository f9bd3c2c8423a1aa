"""The warm worker: isolation, hard time limits, cancellation, drain, limits; stock fallback."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import FlowRun
from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter
from prefect.states import Cancelled

from jobs.aio import run_sync
from jobs.client import Client
from jobs.status import JobState
from tests.support.emails import unique_address, welcome
from tests.support.polling import wait_until
from tests.support.runs import read, submit
from tests.support.smtp import Recorder
from tests.support.stack import Stack


def wait_final(run_id: UUID, timeout: float = 120) -> FlowRun:
    run = read(run_id)

    def final() -> bool:
        nonlocal run
        run = read(run_id)
        return run.state is not None and run.state.is_final()

    wait_until(final, timeout, lambda: f"flow run {run_id} is final; it is {run.state}")
    return run


def abandon(run_id: UUID) -> None:
    """Cancel a run the test is done with, so no recovery service runs it again later."""

    async def go() -> None:
        async with get_client() as prefect:
            await prefect.set_flow_run_state(run_id, Cancelled(message="test done"), force=True)

    run_sync(go())


def wait_running(run_id: UUID, timeout: float = 60) -> None:
    def running() -> bool:
        state = read(run_id).state
        return state is not None and state.is_running()

    wait_until(running, timeout, f"flow run {run_id} is running")


@pytest.fixture
def one_slot_worker(stack: Stack) -> Iterator[Stack]:
    """The session's warm worker (one slot), restarted afterwards if a test stopped it."""
    yield stack
    if stack.worker is None:
        stack.start_worker(limit=1)


def test_runs_look_complete_in_the_api(client: Client, smtp: Recorder) -> None:
    address = unique_address()
    job = client.submit("email", welcome(address), lane="flow")  # a flow run of the worker's
    assert client.wait(job, timeout=60).state is JobState.COMPLETED

    async def details() -> tuple[list[Any], list[Any], list[Any]]:
        async with get_client() as prefect:
            runs = FlowRunFilter(id=FlowRunFilterId(any_=[job.id]))
            tasks = await prefect.read_task_runs(flow_run_filter=runs)
            logs = await prefect.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[job.id])))
            artifacts = await prefect.read_artifacts(flow_run_filter=runs)
            return tasks, logs, artifacts

    tasks, logs, artifacts = run_sync(details())

    def end_logged() -> bool:
        nonlocal tasks, logs, artifacts
        tasks, logs, artifacts = run_sync(details())
        logged = any("Finished in state Completed" in log.message for log in logs)
        return logged and bool(tasks)

    # logs are shipped in batches, and task runs recorded in batches
    wait_until(end_logged, 20, lambda: f"the run logged its end: {[x.message for x in logs]}")
    assert [t.name for t in tasks] == [f"send-email → {address}"]
    assert tasks[0].state is not None and tasks[0].state.is_completed()
    assert any(a.type == "progress" and a.data == 100 for a in artifacts)


def test_runs_send_flow_run_heartbeats(client: Client) -> None:
    job = client.submit("ping", {"note": "heartbeat"}, lane="flow")
    assert client.wait(job, timeout=60).state is JobState.COMPLETED
    heartbeats = EventFilter(
        event=EventNameFilter(name=["prefect.flow-run.heartbeat"]),
        resource=EventResourceFilter(id=[f"prefect.flow-run.{job.id}"]),
    )

    async def beats() -> int:
        async with get_client() as prefect:
            return len((await prefect.read_events(filter=heartbeats, limit=10)).events)

    # the server persists events in batches
    wait_until(lambda: run_sync(beats()) > 0, 30, "a heartbeat event for the run is stored")


@pytest.mark.parametrize(
    ("deployment", "reason"),
    [("test-segfault/segfault", "signal SIGSEGV"), ("test-exit/exit", "exited with code 3")],
)
def test_crashing_job_is_crashed_and_worker_goes_on(
    one_slot_worker: Stack, client: Client, smtp: Recorder, deployment: str, reason: str
) -> None:
    run = wait_final(submit(deployment))

    assert run.state is not None and run.state.is_crashed()
    assert reason in (run.state.message or "")
    after = client.wait(client.submit("email", welcome(unique_address())), timeout=60)
    assert after.state is JobState.COMPLETED
    assert one_slot_worker.worker is not None and one_slot_worker.worker.poll() is None
    abandon(run.id)


def test_a_job_the_worker_cannot_start_is_crashed_with_the_reason(
    one_slot_worker: Stack, client: Client, smtp: Recorder
) -> None:
    settings = one_slot_worker.settings

    async def broken_deployment() -> UUID:
        async with get_client() as prefect:
            flow_id = await prefect.create_flow_from_name("test-broken")
            deployment_id = await prefect.create_deployment(
                flow_id=flow_id,
                name="broken",
                entrypoint="tests/support/flows.py:no_such_flow",
                work_pool_name=settings.work_pool,
                work_queue_name="priority-5",
            )
            run = await prefect.create_flow_run_from_deployment(deployment_id)
            return run.id

    run = wait_final(run_sync(broken_deployment()))

    assert run.state is not None and run.state.is_crashed()
    assert "the worker warm-worker could not start it" in (run.state.message or "")
    assert "no_such_flow" in (run.state.message or "")
    after = client.wait(client.submit("email", welcome(unique_address())), timeout=60)
    assert after.state is JobState.COMPLETED
    abandon(run.id)


def test_job_stuck_in_c_code_is_killed_at_its_time_limit(
    one_slot_worker: Stack, client: Client, smtp: Recorder
) -> None:
    run = wait_final(submit("test-stuck/stuck"), timeout=90)

    assert run.state is not None and run.state.is_failed()
    assert run.state.name == "TimedOut"
    assert "time limit" in (run.state.message or "")
    after = client.wait(client.submit("email", welcome(unique_address())), timeout=60)
    assert after.state is JobState.COMPLETED


def test_cancelling_a_running_job_stops_its_process(one_slot_worker: Stack, client: Client) -> None:
    run_id = submit("test-nap/nap", seconds=60)
    wait_running(run_id)

    client.cancel(run_id)
    run = wait_final(run_id, timeout=30)

    assert run.state is not None and run.state.is_cancelled()


def test_sigterm_drains_in_flight_runs(one_slot_worker: Stack) -> None:
    run_id = submit("test-nap/nap", seconds=4)
    wait_running(run_id)

    assert one_slot_worker.stop_worker() == 0

    run = read(run_id)
    assert run.state is not None and run.state.is_completed()


def test_second_sigterm_stops_at_once_and_marks_crashed(one_slot_worker: Stack) -> None:
    run_id = submit("test-nap/nap", seconds=120)
    wait_running(run_id)
    worker = one_slot_worker.worker
    assert worker is not None

    os.kill(worker.pid, signal.SIGTERM)
    time.sleep(1)
    os.kill(worker.pid, signal.SIGTERM)
    worker.wait(timeout=30)
    one_slot_worker.processes.remove(worker)
    one_slot_worker.worker = None

    run = read(run_id)
    assert run.state is not None and run.state.is_crashed()
    abandon(run_id)


def holders(path: Path) -> set[int]:
    """The processes that have ``path`` open (Linux /proc)."""
    found = set()
    for fds in Path("/proc").glob("[0-9]*/fd"):
        try:
            if any(os.readlink(fd) == str(path) for fd in fds.iterdir()):
                found.add(int(fds.parent.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_runs_die_with_a_worker_killed_outright(one_slot_worker: Stack) -> None:
    run_id = submit("test-nap/nap", seconds=300)
    wait_running(run_id)
    worker = one_slot_worker.worker
    assert worker is not None
    log = (Path(one_slot_worker.settings.home) / "logs" / "warm-worker.log").resolve()
    assert len(holders(log) - {worker.pid}) >= 2  # the forkserver and the run

    worker.kill()
    worker.wait(timeout=30)
    one_slot_worker.processes.remove(worker)
    one_slot_worker.worker = None

    left = holders(log)

    def all_gone() -> bool:
        nonlocal left
        left = holders(log)
        return not left

    wait_until(all_gone, 30, lambda: f"no process is left behind; left: {sorted(left)}")

    abandon(run_id)  # nobody will finish it: its heartbeats stopped


def test_queue_concurrency_limit_holds_under_a_burst(stack: Stack) -> None:
    stack.stop_worker()
    stack.start_worker(limit=4)
    try:
        ids = [submit("test-nap/nap", queue="priority-10", seconds=1.5) for _ in range(6)]
        runs = [wait_final(run_id) for run_id in ids]
    finally:
        stack.stop_worker()
        stack.start_worker(limit=1)

    assert all(run.state and run.state.is_completed() for run in runs)
    spans = [(run.start_time, run.end_time) for run in runs]
    overlaps = [sum(1 for s, e in spans if s <= start < e) for start, _ in spans]
    assert max(overlaps) <= 2  # priority-10 is limited to 2 at once


def test_stock_prefect_worker_runs_the_same_deployments(
    stack: Stack, client: Client, smtp: Recorder
) -> None:
    stack.stop_worker()
    stack.start_worker(limit=1, kind="stock")
    try:
        address = unique_address()
        status = client.wait(client.submit("email", welcome(address)), timeout=180)
    finally:
        stack.stop_worker()
        stack.start_worker(limit=1)

    assert status.state is JobState.COMPLETED
    assert len(smtp.to(address)) == 1
