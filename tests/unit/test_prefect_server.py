"""The server fix: which requests and tasks take SQLite's write lock up front."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import subprocess
import sys
from typing import Any

import pytest

from jobs.prefect_server import _WRITE_FIRST, WriteFirst, writing_first

RUN = "7b0e1c5e-3f7a-4a8e-9a51-0d2f4b6c8e10"


def seen_by_the_app(method: str, path: str, kind: str = "http") -> bool:
    seen: list[bool] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(_WRITE_FIRST.get())

    asyncio.run(WriteFirst(app)({"type": kind, "method": method, "path": path}, None, None))
    assert _WRITE_FIRST.get() is False  # reset after the request
    return seen[0]


@pytest.mark.parametrize(
    "path",
    [
        f"/api/deployments/{RUN}/create_flow_run",
        f"/api/deployments/{RUN}/create_flow_run/bulk",
        "/api/flow_runs/",
        "/api/task_runs/",
        "/api/v2/concurrency_limits/",  # checks the name is free first
        "/api/v2/concurrency_limits/increment",
        "/api/v2/concurrency_limits/increment-with-lease",
        "/api/v2/concurrency_limits/decrement",
        "/api/work_pools/jobs/workers/heartbeat",
    ],
)
def test_requests_that_read_before_they_write_take_the_write_lock_first(path: str) -> None:
    assert seen_by_the_app("POST", path) is True


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/api/deployments/{RUN}"),
        ("GET", f"/api/deployments/{RUN}/create_flow_run"),
        ("POST", "/api/flow_runs/filter"),
        ("POST", "/api/task_runs/filter"),
        # Prefect begins these IMMEDIATE itself
        ("POST", f"/api/flow_runs/{RUN}/set_state"),
        ("POST", f"/api/task_runs/{RUN}/set_state"),
        # these write first: nothing to wait for
        ("POST", "/api/v2/concurrency_limits/decrement-with-lease"),
        ("POST", "/api/logs/"),
        ("POST", "/api/events"),
        ("POST", "/api/v2/concurrency_limits/filter"),
        ("PATCH", "/api/v2/concurrency_limits/http-host:example.com"),
        ("POST", "/api/work_pools/jobs/workers/filter"),
    ],
)
def test_other_requests_are_left_as_prefect_runs_them(method: str, path: str) -> None:
    assert seen_by_the_app(method, path) is False


def test_lifespan_and_websockets_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    asyncio.run(WriteFirst(app)({"type": "lifespan"}, None, None))
    assert seen == ["lifespan"]


async def late(flow_run_id: str, *, db: object = None) -> tuple[str, bool]:
    return flow_run_id, _WRITE_FIRST.get()


def test_a_task_writing_first_takes_the_write_lock_and_keeps_its_signature() -> None:
    task = writing_first(late)

    assert asyncio.run(task("run-1")) == ("run-1", True)
    assert _WRITE_FIRST.get() is False
    assert task.__name__ == "late"  # the task queue registers tasks by name ...
    assert inspect.signature(task) == inspect.signature(late)  # ... and injects by signature


INSTALLED = """
import asyncio, json
from sqlalchemy.ext.asyncio import AsyncSession
from jobs import prefect_server
prefect_server.install()
from prefect.server.api.background_workers import task_functions
from prefect.server.database.configurations import SQLITE_BEGIN_MODE, AioSqliteConfiguration
from prefect.server.services import late_runs

config = AioSqliteConfiguration(connection_url="sqlite+aiosqlite://")

async def begins():
    async with config.begin_transaction(AsyncSession()):
        return SQLITE_BEGIN_MODE.get()

registered = [f for f in task_functions if f.__name__ == "mark_flow_run_late"]
print(json.dumps({
    "plain": asyncio.run(begins()),
    "writing_first": asyncio.run(prefect_server.writing_first(begins)()),
    "late_task_registered": registered == [late_runs.mark_flow_run_late],
    "late_task_writes_first": hasattr(late_runs.mark_flow_run_late, "__wrapped__"),
}))
"""


def test_installed_in_prefect_late_runs_and_writing_first_transactions_begin_immediate() -> None:
    out = subprocess.run(
        [sys.executable, "-c", INSTALLED], capture_output=True, text=True, check=True
    ).stdout

    assert json.loads(out.splitlines()[-1]) == {
        "plain": "DEFERRED",
        "writing_first": "IMMEDIATE",
        "late_task_registered": True,
        "late_task_writes_first": True,
    }


QUEUES = """
import asyncio, json
from jobs import prefect_server
prefect_server.install()
from prefect.server.utilities.messaging import memory

async def fill():
    topic = memory.Topic.by_name("jobs-test-topic")
    subscription = topic.subscribe()
    for n in range(12_000):  # past Prefect's 10,000
        await subscription.deliver(memory.MemoryMessage(data=str(n), attributes=None))
    return subscription._queue.maxsize, subscription._queue.qsize()

print(json.dumps(asyncio.run(fill())))
"""


def test_in_memory_broker_queues_hold_a_burst_past_prefects_10000() -> None:
    env = {**os.environ, "JOBS_SERVER_EVENT_QUEUE_SIZE": "50000"}
    out = subprocess.run(
        [sys.executable, "-c", QUEUES], capture_output=True, text=True, check=True, env=env
    ).stdout

    assert json.loads(out.splitlines()[-1]) == [50_000, 12_000]  # none dropped
