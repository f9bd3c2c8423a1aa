"""Unit-test fixtures: a real application database (SQLite, migrated) for the outbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.db.migrate import migrate


@pytest.fixture(scope="session")
def app_db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated application database of its own, holding the outbox table."""
    path: Path = tmp_path_factory.mktemp("app-db") / "app.db"
    url = f"sqlite:///{path}"
    migrate(url)
    return url
