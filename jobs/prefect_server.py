"""The Prefect server, as ``prefect server start`` runs it, with one fix for SQLite.

Prefect begins its SQLite transactions DEFERRED. Creating flow runs from a deployment reads (the
deployment) before it writes (the runs); when another connection commits in between, SQLite
refuses the upgrade to a write at once ("database is locked", SQLITE_BUSY_SNAPSHOT: the busy
timeout is never consulted), the server answers 503, and Prefect's client waits 2, 4, 8 s
before trying again. Under load (a worker busy, jobs submitted) that happened to most bulk
submissions and to many single ones. Here the transactions of those two endpoints begin
IMMEDIATE, as Prefect's own ``with_for_update`` transactions do: they wait for the write lock
instead of failing. Everything else is Prefect's, unchanged; PostgreSQL is not affected.

Run as ``python -m jobs.prefect_server server start ...`` (the arguments of ``prefect``).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

_CREATES_RUNS = re.compile(r"/deployments/[^/]+/create_flow_run(/bulk)?$")
_WRITE_FIRST: ContextVar[bool] = ContextVar("jobs_sqlite_write_first", default=False)


class WriteFirst:
    """ASGI wrapper: requests that create flow runs take SQLite's write lock up front."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        creates = scope["type"] == "http" and scope["method"] == "POST"
        if not (creates and _CREATES_RUNS.search(scope["path"])):
            await self.app(scope, receive, send)
            return
        token = _WRITE_FIRST.set(True)
        try:
            await self.app(scope, receive, send)
        finally:
            _WRITE_FIRST.reset(token)


def install() -> None:
    """Patch Prefect's SQLite transactions and app factory in this process."""
    import prefect.server.api.server as server
    from prefect.server.database.configurations import AioSqliteConfiguration

    begin = AioSqliteConfiguration.begin_transaction

    @asynccontextmanager
    async def begin_transaction(
        self: AioSqliteConfiguration, session: Any, with_for_update: bool = False
    ) -> AsyncIterator[Any]:
        async with begin(self, session, with_for_update or _WRITE_FIRST.get()) as transaction:
            yield transaction

    create_app = server.create_app

    def create_wrapped_app(*args: Any, **kwargs: Any) -> Any:
        return WriteFirst(create_app(*args, **kwargs))

    AioSqliteConfiguration.begin_transaction = begin_transaction  # type: ignore[method-assign]
    server.create_app = create_wrapped_app


if __name__ == "__main__":
    install()
    from prefect.cli import app

    app()
