"""Short transactions of the workers wait out a database they cannot reach, then give up."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from jobs.db import engine as db_engine
from jobs.db.engine import through_outages


def test_a_transaction_waits_until_the_database_can_be_reached(tmp_path: Path) -> None:
    folder = tmp_path / "mounted-later"  # SQLite cannot open a file in a missing folder
    engine = create_engine(f"sqlite:///{folder}/app.db")
    calls = []

    @through_outages
    def one() -> int:
        calls.append(time.monotonic())
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT 1")).scalar_one())

    threading.Timer(1.0, folder.mkdir).start()
    assert one() == 1
    assert len(calls) >= 3 and calls[-1] - calls[0] >= 1.0  # it failed, waited, tried again


def test_it_gives_up_after_the_outage_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_engine, "OUTAGE_SECONDS", 0.5)
    engine = create_engine(f"sqlite:///{tmp_path}/never/app.db")

    @through_outages
    def one() -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    started = time.monotonic()
    with pytest.raises(OperationalError):
        one()
    assert time.monotonic() - started < 5


def test_other_database_errors_are_not_tried_again(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/app.db")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (k TEXT PRIMARY KEY)"))
    calls = []

    @through_outages
    def insert() -> None:
        calls.append(1)
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES ('same')"))

    insert()
    with pytest.raises(IntegrityError):
        insert()
    assert len(calls) == 2
