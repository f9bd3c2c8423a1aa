"""Flow runs made by tests on the session's Prefect server: create, finish, wait for, remove."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID, uuid4

from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import FlowRun, State, StateType, TaskRun
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from prefect.states import Cancelled

from jobs.aio import run_sync
from tests.support.polling import until

NOT_STARTED = {StateType.SCHEDULED, StateType.PAUSED}


def submit(name: str, queue: str = "priority-5", **parameters: Any) -> UUID:
    """A run of the deployment ``name`` (flow/deployment) with ``parameters``; its id."""
    run = run_deployment(name, parameters=parameters, timeout=0, work_queue_name=queue)
    assert isinstance(run, FlowRun)
    return run.id


def read(run_id: UUID) -> FlowRun:
    """The flow run as the server has it now."""

    async def go() -> FlowRun:
        async with get_client() as prefect:
            return await prefect.read_flow_run(run_id)

    return run_sync(go())


async def scratch_deployment(client: PrefectClient, label: str) -> UUID:
    """A deployment of a new flow, in no work pool: no worker ever runs its runs."""
    flow_id = await client.create_flow_from_name(f"test-{label}-{uuid4().hex[:8]}")
    return await client.create_deployment(flow_id=flow_id, name=label)


async def finished_run(client: PrefectClient, deployment_id: UUID, state: State[Any]) -> FlowRun:
    """A run of the deployment, forced into ``state`` (its end time is the server's now)."""
    run = await client.create_flow_run_from_deployment(deployment_id)
    await client.set_flow_run_state(run.id, state, force=True)
    return await client.read_flow_run(run.id)


def names_and_logs(
    run_id: UUID, containing: str, seconds: float = 20
) -> tuple[str, list[str], list[str]]:
    """A finished run's name, its task runs' names and its log lines (its tasks' too), once a
    line contains ``containing``: logs reach the server in batches, after the run has ended."""

    async def read() -> tuple[str, list[str], list[str]]:
        async with get_client() as client:
            return await _names_and_logs(client, run_id, containing, seconds)

    return run_sync(read())


async def _names_and_logs(
    client: PrefectClient, run_id: UUID, containing: str, seconds: float
) -> tuple[str, list[str], list[str]]:
    logs: list[str] = []

    async def logged() -> bool:
        nonlocal logs
        found = await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
        logs = [log.message for log in found]
        return any(containing in line for line in logs)

    await until(logged, seconds, lambda: f"a log line contains {containing!r}; lines: {logs}")
    runs = FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
    tasks: list[TaskRun] = []

    async def recorded() -> bool:  # task runs reach the database in the recorder's batches
        nonlocal tasks
        tasks = await client.read_task_runs(flow_run_filter=runs)
        return bool(tasks)

    await until(recorded, seconds, lambda: f"the task runs of {run_id} are recorded")
    run = await client.read_flow_run(run_id)
    return run.name, sorted(task.name for task in tasks), logs


async def discard(client: PrefectClient, ids: Iterable[UUID]) -> None:
    """Cancel runs that have not started, let started ones finish, then delete them all.

    So no job a test submitted is left for a worker that outlives the test.
    """
    for run_id in ids:
        try:
            run = await client.read_flow_run(run_id)
        except ObjectNotFound:
            continue
        if run.state is not None and run.state.type in NOT_STARTED:
            await client.set_flow_run_state(run_id, Cancelled(), force=True)

        async def final(run_id: UUID = run_id) -> bool:
            state = (await client.read_flow_run(run_id)).state
            return state is not None and state.is_final()

        await until(final, 120, f"run {run_id} is final")
        await client.delete_flow_run(run_id)
