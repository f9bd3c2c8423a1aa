"""The Prefect server, as ``prefect server start`` runs it, with three fixes.

Transactions that read before they write, on SQLite. Prefect begins most of its SQLite
transactions DEFERRED. One that reads before it writes fails at its first write when another
connection committed in between: SQLite refuses the upgrade at once ("database is locked",
SQLITE_BUSY_SNAPSHOT: the busy timeout is never consulted). A request then answers 503 (Prefect
logs nothing) and Prefect's client waits 2, 4, 8 s before trying again; the late-runs service
logs a traceback ("Encountered error during state validation") and tries again on its next
loop. Under load (a worker working a backlog, jobs submitted) that happened to these, all of
which read first:

- creating flow runs from a deployment, one or in bulk (they read the deployment);
- creating flow runs and task runs (``POST /flow_runs/``, ``/task_runs/``: the labels);
- taking and releasing global concurrency slots (``/v2/concurrency_limits/increment``,
  ``increment-with-lease``, ``decrement``: the limits);
- worker heartbeats (the work pool);
- marking runs Late (the run), once a backlog waits longer than the late-runs threshold.

Here their transactions begin IMMEDIATE, as Prefect's own ``with_for_update`` transactions do
(setting a flow or task run's state, among others): they wait for the write lock instead of
failing. PostgreSQL is not affected.

Creating a global concurrency limit whose name is taken. Prefect inserts it all the same and
answers the unique-name violation 409, but logs it as an error, with its traceback: jobs that
reach a new destination host at once (``jobs/outbound/limits.py``) did that. Here the name is
looked up first and a taken one is answered 409 without an insert; as that request now reads
before it writes, it begins IMMEDIATE too, so on SQLite concurrent creations of one name are
checked one after the other. (On PostgreSQL two can still pass the check at once: Prefect's
logged 409 then, as before.)

Room for a burst of events. The embedded server's in-memory message broker gives each consumer
(the event persister, the task-run recorder, the automations' triggers, ...) a queue of 10,000
messages and drops what does not fit, with a warning. A burst of batched jobs (three state
events per task run) overran it: a bench run of 10,000 no-op jobs dropped 18,204 events, and
the task runs and events of those jobs never reached the database. Here each queue holds
``JOBS_SERVER_EVENT_QUEUE_SIZE`` messages (200,000 by default: a few hundred MB at worst), so
consumers that fall behind during a burst catch up after it instead of losing events. A Redis
broker (``prefect-redis``) has no such limit.

Everything else is Prefect's, unchanged.

Run as ``python -m jobs.prefect_server server start ...`` (the arguments of ``prefect``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

_READS_FIRST = re.compile(
    r"/(deployments/[^/]+/create_flow_run(/bulk)?"
    r"|flow_runs/?|task_runs/?"
    r"|v2/concurrency_limits(/|/increment|/increment-with-lease|/decrement)?"
    r"|work_pools/[^/]+/workers/heartbeat)$"
)
_WRITE_FIRST: ContextVar[bool] = ContextVar("jobs_sqlite_write_first", default=False)

P = ParamSpec("P")
R = TypeVar("R")


class WriteFirst:
    """ASGI wrapper: requests that read before they write take SQLite's write lock up front."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        post = scope["type"] == "http" and scope["method"] == "POST"
        if not (post and _READS_FIRST.search(scope["path"])):
            await self.app(scope, receive, send)
            return
        token = _WRITE_FIRST.set(True)
        try:
            await self.app(scope, receive, send)
        finally:
            _WRITE_FIRST.reset(token)


def writing_first(
    task: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """``task`` (a background task of the server) taking SQLite's write lock up front.

    The signature stays ``task``'s: the server's task queue injects dependencies by it.
    """

    @functools.wraps(task)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        token = _WRITE_FIRST.set(True)
        try:
            return await task(*args, **kwargs)
        finally:
            _WRITE_FIRST.reset(token)

    return run


DEFAULT_EVENT_QUEUE_SIZE = 200_000


def _widen_subscription_queues(size: int) -> None:
    """Each in-memory broker subscription queues up to ``size`` messages (Prefect: 10,000)."""
    import asyncio

    from prefect.server.utilities.messaging import memory

    init = memory.Subscription.__init__

    @functools.wraps(init)
    def __init__(self: memory.Subscription, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self._queue = asyncio.Queue(maxsize=size)

    memory.Subscription.__init__ = __init__  # type: ignore[method-assign]


def install() -> None:
    """Patch Prefect's SQLite transactions, late-runs task, creation of global concurrency
    limits, in-memory broker queues and app factory in this process."""
    import os

    import prefect.server.api.server as server
    import prefect.server.models.concurrency_limits_v2 as limits_v2
    from fastapi import HTTPException, status
    from prefect.server.api import background_workers
    from prefect.server.database.configurations import AioSqliteConfiguration
    from prefect.server.services import late_runs

    begin = AioSqliteConfiguration.begin_transaction

    @asynccontextmanager
    async def begin_transaction(
        self: AioSqliteConfiguration, session: Any, with_for_update: bool = False
    ) -> AsyncIterator[Any]:
        async with begin(self, session, with_for_update or _WRITE_FIRST.get()) as transaction:
            yield transaction

    # the service schedules the task by this module's name for it; the worker runs the one of
    # the task list, registered by the same name
    mark_late = late_runs.mark_flow_run_late
    late_runs.mark_flow_run_late = writing_first(mark_late)
    tasks = background_workers.task_functions
    tasks[tasks.index(mark_late)] = late_runs.mark_flow_run_late

    create_limit: Any = limits_v2.create_concurrency_limit
    read_limit: Any = limits_v2.read_concurrency_limit

    async def create_concurrency_limit(session: Any, concurrency_limit: Any) -> Any:
        name = concurrency_limit.name
        if await read_limit(session=session, name=name) is not None:
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"A concurrency limit named {name!r} already exists."
            )
        return await create_limit(session=session, concurrency_limit=concurrency_limit)

    create_app = server.create_app

    def create_wrapped_app(*args: Any, **kwargs: Any) -> Any:
        return WriteFirst(create_app(*args, **kwargs))

    size = int(os.environ.get("JOBS_SERVER_EVENT_QUEUE_SIZE", DEFAULT_EVENT_QUEUE_SIZE))
    _widen_subscription_queues(size)
    AioSqliteConfiguration.begin_transaction = begin_transaction  # type: ignore[method-assign]
    limits_v2.create_concurrency_limit = create_concurrency_limit
    server.create_app = create_wrapped_app


if __name__ == "__main__":
    install()
    from prefect.cli import app

    app()
