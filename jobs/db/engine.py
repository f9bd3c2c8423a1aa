"""Engine and sessions for the application database, built from settings on first use."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from jobs.settings import get_settings


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@cache
def get_engine(url: str | None = None) -> Engine:
    """The engine for ``url`` (default: the ``JOBS_DATABASE_URL`` setting), one per process."""
    url = url or get_settings().app_database_url
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def session(url: str | None = None) -> Session:
    """A new session; use it as a context manager, with ``session.begin()`` for a transaction."""
    return sessionmaker(get_engine(url), expire_on_commit=False)()


P = ParamSpec("P")
T = TypeVar("T")
OUTAGE_SECONDS = 90.0
"""How long :func:`through_outages` keeps trying: a database restart or failover takes seconds."""


def through_outages(fn: Callable[P, T]) -> Callable[P, T]:
    """Run ``fn`` again while the database cannot be reached (a restart, a failover, a dropped
    connection: SQLAlchemy's ``OperationalError``), backing off from 0.2 s to 5 s, for up to
    :data:`OUTAGE_SECONDS`; then the error is raised. For short, idempotent transactions."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        deadline = time.monotonic() + OUTAGE_SECONDS
        pause = 0.2
        while True:
            try:
                return fn(*args, **kwargs)
            except OperationalError as exc:
                if time.monotonic() + pause > deadline:
                    raise
                logging.getLogger("jobs.db").warning(
                    "%s: database unreachable (%s); trying again in %.1f s",
                    fn.__name__, str(exc.orig).splitlines()[0], pause,
                )  # fmt: skip
                time.sleep(pause)
                pause = min(pause * 2, 5.0)

    return wrapper
