"""Measurements against a running Prefect server: latency, throughput, the API's ceiling, CPU."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import State, StateType
from prefect.states import Completed, Pending, Running

FINAL = [StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest-rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


@dataclass
class Latencies:
    pickup: list[float]  # created -> Running
    end_to_end: list[float]  # created -> Completed

    def summary(self) -> dict[str, float]:
        return {
            "pickup_p50_s": statistics.median(self.pickup),
            "pickup_p99_s": percentile(self.pickup, 99),
            "e2e_p50_s": statistics.median(self.end_to_end),
            "e2e_p99_s": percentile(self.end_to_end, 99),
        }


async def _state_times(client: PrefectClient, run_id: UUID) -> dict[StateType, datetime]:
    states = await client.read_flow_run_states(run_id)
    return {state.type: state.timestamp for state in states}


async def wait_final(client: PrefectClient, run_id: UUID, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = await client.read_flow_run(run_id)
        if run.state and run.state.is_final():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"flow run {run_id} not finished after {timeout} s")


async def sequential(client: PrefectClient, deployment_id: UUID, count: int) -> Latencies:
    """Submit ``count`` jobs one after another, each once the previous finished."""
    pickup, total = [], []
    for _ in range(count):
        run = await client.create_flow_run_from_deployment(deployment_id, parameters={"params": {}})
        await wait_final(client, run.id)
        times = await _state_times(client, run.id)
        pickup.append((times[StateType.RUNNING] - run.created).total_seconds())  # type: ignore[operator]
        total.append((times[StateType.COMPLETED] - run.created).total_seconds())  # type: ignore[operator]
    return Latencies(pickup, total)


async def count_final(client: PrefectClient, deployment_id: UUID) -> int:
    return await client.count_flow_runs(
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=FINAL))
        ),
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
    )


Create = Callable[[int], Awaitable[list[UUID]]]
"""Creates that many runs of the benchmark's deployment; their ids."""


def one_by_one(client: PrefectClient, deployment_id: UUID, concurrency: int = 4) -> Create:
    """Creates runs with one API call each, ``concurrency`` calls in flight."""

    async def create(count: int) -> list[UUID]:
        gate = asyncio.Semaphore(concurrency)

        async def one() -> UUID:
            async with gate:
                run = await client.create_flow_run_from_deployment(
                    deployment_id, parameters={"params": {}}
                )
                return run.id

        return list(await asyncio.gather(*(one() for _ in range(count))))

    return create


async def burst(
    client: PrefectClient, deployment_id: UUID, count: int, create: Create, timeout: float = 1800
) -> float:
    """Create ``count`` jobs at once; jobs per second from the first create to the last finish."""
    before = await count_final(client, deployment_id)
    started = time.monotonic()
    await create(count)
    while await count_final(client, deployment_id) - before < count:
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"burst of {count} not finished after {timeout} s")
        await asyncio.sleep(0.2)
    return count / (time.monotonic() - started)


async def ceiling(
    client: PrefectClient, create: Create, count: int, clients: int, up_front: bool = False
) -> float:
    """Flow runs per second created, then driven Pending -> Running -> Completed by ``clients``
    concurrent clients calling the API, nothing executed. Each client creates its next run, or
    with ``up_front`` all runs are created first, in one call of ``create``."""
    remaining = list(range(count))
    created: list[UUID] = []

    async def drive() -> None:
        while remaining:
            remaining.pop()
            run_id = created.pop() if up_front else (await create(1))[0]
            states: list[State[Any]] = [Pending(), Running(), Completed()]
            for state in states:
                await client.set_flow_run_state(run_id, state)

    started = time.monotonic()
    if up_front:
        created.extend(await create(count))
    await asyncio.gather(*(drive() for _ in range(clients)))
    return count / (time.monotonic() - started)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def idle_cpu_percent(pid: int, seconds: float = 15) -> float:
    """Share of one core the process used over ``seconds`` of wall time."""
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return 100 * (cpu_seconds(pid) - before) / seconds
