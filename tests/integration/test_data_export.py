"""Exports against real SQLite databases: chunked streaming, filters, formula injection."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, create_engine, insert

from jobs.data import export
from jobs.data.params import ExportTable
from jobs.db.models import Base, DailyRollup, Order, User
from tests.support.data import (
    csv_rows,
    ensure_sample_data,
    parquet_rows,
    query,
    stored_time,
    xlsx_rows,
)

NOW = datetime(2024, 6, 15, 12, tzinfo=UTC)
EVIL = ['=HYPERLINK("http://evil","x")', "+1+2", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    """A private SQLite database with the app schema."""
    engine = create_engine(f"sqlite:///{tmp_path / 'own.db'}")
    Base.metadata.create_all(engine)
    return engine


def fill_orders(engine: Engine, count: int) -> None:
    with engine.begin() as db:
        db.execute(
            insert(User), [{"id": 1, "email": "a@example.com", "name": "A", "created_at": NOW}]
        )
        db.execute(
            insert(Order),
            [
                {
                    "user_id": 1,
                    "status": "paid",
                    "total_cents": n,
                    "created_at": NOW + timedelta(seconds=n),
                }
                for n in range(count)
            ],
        )


def test_export_streams_in_chunks_with_flat_memory(engine: Engine, tmp_path: Path) -> None:
    fill_orders(engine, 50_000)
    params = ExportTable(table="orders", formats=["csv", "parquet"], chunk_size=1000)
    chunk_rows: list[int] = []

    def on_chunk(rows: int, total: int) -> None:
        chunk_rows.append(rows - sum(chunk_rows))
        assert total == 50_000

    tracemalloc.start()
    result = export.run(params, "chunked", engine=engine, root=tmp_path, on_chunk=on_chunk)
    chunked_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    with engine.connect() as connection:
        everything = pd.read_sql(export.query(params), connection)
    full_load_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    assert (result.rows, result.chunks) == (50_000, 50)
    assert chunk_rows == [1000] * 50
    assert len(everything) == 50_000
    assert chunked_peak < full_load_peak / 4, (chunked_peak, full_load_peak)
    assert len(csv_rows(Path(result.files["csv"]))) == 50_000
    assert len(parquet_rows(Path(result.files["parquet"]))) == 50_000


def test_xlsx_export_spans_chunks_in_a_write_only_workbook(engine: Engine, tmp_path: Path) -> None:
    fill_orders(engine, 2500)
    params = ExportTable(
        table="orders", formats=["xlsx"], chunk_size=1000, columns=["id", "created_at"]
    )

    result = export.run(params, "xlsx", engine=engine, root=tmp_path)

    rows = xlsx_rows(Path(result.files["xlsx"]))
    assert result.chunks == 3
    assert [row["id"] for row in rows] == list(range(1, 2501))
    assert rows[-1]["created_at"] == (NOW + timedelta(seconds=2499)).replace(tzinfo=None)


def test_formula_like_text_is_neutralised_in_csv_and_xlsx(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as db:
        users = [
            {"id": n, "email": f"u{n}@example.com", "name": name, "created_at": NOW}
            for n, name in enumerate([*EVIL, "Ada Lovelace"], start=1)
        ]
        db.execute(insert(User), users)
    params = ExportTable(table="users", columns=["id", "name"])

    result = export.run(params, "evil", engine=engine, root=tmp_path)

    expected = [*("'" + name for name in EVIL), "Ada Lovelace"]
    assert [row["name"] for row in csv_rows(Path(result.files["csv"]))] == expected
    in_xml = [name.replace("\r", "\n") for name in expected]  # XML reads a lone CR as LF
    assert [row["name"] for row in xlsx_rows(Path(result.files["xlsx"]))] == in_xml
    assert [row["name"] for row in parquet_rows(Path(result.files["parquet"]))] == [
        *EVIL,
        "Ada Lovelace",
    ]


def test_a_failed_export_leaves_no_file_behind(engine: Engine, tmp_path: Path) -> None:
    fill_orders(engine, 3000)

    def fail(rows: int, total: int) -> None:
        if rows >= 2000:
            raise ConnectionError("database went away")

    params = ExportTable(table="orders", chunk_size=1000)
    with pytest.raises(ConnectionError):
        export.run(params, "broken", engine=engine, root=tmp_path, on_chunk=fail)

    assert list((tmp_path / "exports").iterdir()) == []


def test_date_range_on_a_date_column(engine: Engine, tmp_path: Path) -> None:
    days = [date(2024, 6, 1) + timedelta(days=n) for n in range(4)]
    with engine.begin() as db:
        rows = [{"day": day, "metric": "orders", "value": 1.5, "updated_at": NOW} for day in days]
        db.execute(insert(DailyRollup), rows)
    params = ExportTable(
        table="daily_rollups",
        since=datetime(2024, 6, 2, tzinfo=UTC),
        until=datetime(2024, 6, 4, tzinfo=UTC),
        formats=["csv", "parquet"],
    )

    result = export.run(params, "days", engine=engine, root=tmp_path)

    assert [row["day"] for row in csv_rows(Path(result.files["csv"]))] == [
        "2024-06-02",
        "2024-06-03",
    ]
    assert [row["day"] for row in parquet_rows(Path(result.files["parquet"]))] == days[1:3]


@pytest.mark.usefixtures("app_db")
def test_filtered_export_of_the_app_database_matches_sql() -> None:
    ensure_sample_data()
    since = datetime.now(UTC) - timedelta(days=20)
    params = ExportTable(
        table="orders",
        columns=["id", "status", "total_cents", "created_at"],
        where={"status": ["paid", "refunded"]},
        since=since,
        chunk_size=500,
    )

    result = export.run(params, "filtered")

    expected = query(
        "SELECT id, status, total_cents, created_at FROM orders "
        "WHERE status IN ('paid', 'refunded') AND created_at >= :since ORDER BY id",
        since=since.strftime("%Y-%m-%d %H:%M:%S.%f"),
    )
    assert len(expected) > 500
    assert result.rows == len(expected)
    for kind in ("csv", "xlsx", "parquet"):
        assert Path(result.files[kind]).name == f"orders-filtered.{kind}"
    assert_same(expected, csv_rows(Path(result.files["csv"])), exact_time=True)
    assert_same(expected, parquet_rows(Path(result.files["parquet"])), exact_time=True)
    assert_same(expected, xlsx_rows(Path(result.files["xlsx"])), exact_time=False)


def assert_same(
    expected: list[dict[str, Any]], got: list[dict[str, Any]], exact_time: bool
) -> None:
    """Rows equal, read back from any format; Excel keeps times to the millisecond only."""
    assert len(got) == len(expected)
    slack = timedelta(0) if exact_time else timedelta(milliseconds=1)
    for want, row in zip(expected, got, strict=True):
        assert (int(row["id"]), row["status"], int(row["total_cents"])) == (
            want["id"],
            want["status"],
            want["total_cents"],
        )
        assert abs(stored_time(row["created_at"]) - stored_time(want["created_at"])) <= slack
