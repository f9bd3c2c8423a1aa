"""Integration-tier fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from jobs.client import Client
from jobs.db.engine import get_engine
from jobs.db.migrate import migrate
from tests.support.stack import Stack


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A fresh, migrated SQLite application database of the test's own."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    migrate(url)
    engine = get_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def client(prefect_server: Stack, app_db: str) -> Client:
    """A client of the session's server, with every job type deployed (and the application
    database, which holds the batched lane's outbox, migrated)."""
    prefect_server.deploy()
    return Client(prefect_server.settings)
