"""Helpers for the data-job tests: own rows in the app DB, independent queries, file readers."""

from __future__ import annotations

import csv
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, text

from jobs.data.seed import seed
from jobs.db.engine import get_engine
from jobs.db.models import Order, User

Row = dict[str, Any]


def ensure_sample_data() -> None:
    """The sample data `make up` seeds, even when other tests added users first."""
    seeded = "SELECT id FROM users WHERE email LIKE 'user______@example.com' LIMIT 1"
    if seed() == 0 and not query(seeded):
        seed(force=True)


def add_user_with_orders(
    orders: list[tuple[str, int, datetime]], signed_up: datetime, engine: Engine | None = None
) -> int:
    """A new user (signed up at ``signed_up``) with ``(status, cents, created_at)`` orders."""
    with (engine or get_engine()).begin() as db:
        email = f"data-test-{uuid.uuid4().hex[:12]}@example.com"
        values = {"email": email, "name": "Data Test", "created_at": signed_up}
        user_id = int(db.execute(insert(User).values(values)).inserted_primary_key[0])
        rows = [
            {"user_id": user_id, "status": s, "total_cents": c, "currency": "EUR", "created_at": t}
            for s, c, t in orders
        ]
        if rows:
            db.execute(insert(Order), rows)
    return user_id


def query(sql: str, **params: Any) -> list[Row]:
    """Rows of a hand-written SQL query on the app database."""
    with get_engine().connect() as db:
        return [dict(row._mapping) for row in db.execute(text(sql), params)]


def weekly_figures(first: date, last: date, currency: str = "EUR") -> dict[str, Row]:
    """Per day, straight from SQL: orders, paid, refunded, paid revenue (cents), signups."""
    days: dict[str, Row] = {}
    orders = query(
        """SELECT date(created_at) AS day, count(*) AS orders,
                  sum(status = 'paid') AS paid_orders, sum(status = 'refunded') AS refunded_orders,
                  coalesce(sum(CASE WHEN status = 'paid' THEN total_cents END), 0) AS revenue_cents
           FROM orders WHERE currency = :currency AND date(created_at) BETWEEN :first AND :last
           GROUP BY date(created_at)""",
        currency=currency,
        first=str(first),
        last=str(last),
    )
    for row in orders:
        days[row.pop("day")] = {**row, "signups": 0}
    signups = query(
        """SELECT date(created_at) AS day, count(*) AS signups FROM users
           WHERE date(created_at) BETWEEN :first AND :last GROUP BY date(created_at)""",
        first=str(first),
        last=str(last),
    )
    empty = {"orders": 0, "paid_orders": 0, "refunded_orders": 0, "revenue_cents": 0}
    for row in signups:
        days.setdefault(row["day"], dict(empty))["signups"] = row["signups"]
    return days


def stored_time(value: str | datetime) -> datetime:
    """A time as stored by SQLite (naive text in UTC), or read back from a file, in UTC."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def xlsx_rows(path: Path) -> list[Row]:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True)
    rows: list[Row] = []
    for sheet in book.worksheets:
        values = list(sheet.iter_rows(values_only=True))
        rows += [dict(zip(values[0], row, strict=True)) for row in values[1:]]
    book.close()
    return rows


def parquet_rows(path: Path) -> list[Row]:
    import pyarrow.parquet as pq

    rows: list[Row] = pq.read_table(path).to_pylist()
    return rows
