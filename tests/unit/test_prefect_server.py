"""The server fix: which requests take SQLite's write lock up front."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from jobs.prefect_server import _WRITE_FIRST, WriteFirst

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
    [f"/api/deployments/{RUN}/create_flow_run", f"/api/deployments/{RUN}/create_flow_run/bulk"],
)
def test_creating_runs_from_a_deployment_takes_the_write_lock_first(path: str) -> None:
    assert seen_by_the_app("POST", path) is True


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/api/deployments/{RUN}"),
        ("POST", "/api/flow_runs/filter"),
        ("POST", f"/api/flow_runs/{RUN}/set_state"),
        ("GET", f"/api/deployments/{RUN}/create_flow_run"),
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
