"""Daily rollups: each day's order and signup metrics, upserted into daily_rollups."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from jobs import runlog, titles
from jobs.data import dates
from jobs.db.engine import get_engine
from jobs.db.models import DailyRollup, Order, User, utcnow

COUNTS = ("orders", "orders_paid", "orders_refunded", "signups")


def metrics(db: Session, day: date) -> dict[str, float]:
    """The day's metrics: orders (all, paid, refunded), signups, paid revenue per currency."""
    start, end = dates.start_of(day), dates.start_of(day + timedelta(days=1))
    values: dict[str, float] = dict.fromkeys(COUNTS, 0)
    values["signups"] = (
        db.scalar(select(func.count()).where(User.created_at >= start, User.created_at < end)) or 0
    )
    for currency, placed, paid, refunded, revenue in db.execute(_orders_by_currency(start, end)):
        values["orders"] += placed
        values["orders_paid"] += paid
        values["orders_refunded"] += refunded
        values[f"revenue_cents_{currency.lower()}"] = revenue
    return values


def _orders_by_currency(start: datetime, end: datetime) -> Any:
    def tally(condition: Any, value: Any = 1) -> Any:
        return func.coalesce(func.sum(case((condition, value), else_=0)), 0)

    paid = Order.status == "paid"
    return (
        select(
            Order.currency,
            func.count(),
            tally(paid),
            tally(Order.status == "refunded"),
            tally(paid, Order.total_cents),
        )
        .where(Order.created_at >= start, Order.created_at < end)
        .group_by(Order.currency)
    )


def rollup_days(days: Iterable[date], engine: Engine | None = None) -> dict[date, dict[str, float]]:
    """Recompute and upsert each day's metrics, one transaction per day; returns them."""
    written = {}
    for day in days:
        with Session(engine or get_engine()) as db, db.begin():
            values = metrics(db, day)
            rows = [
                {"day": day, "metric": name, "value": float(value), "updated_at": utcnow()}
                for name, value in values.items()
            ]
            upsert(db, rows)
            db.execute(
                delete(DailyRollup).where(DailyRollup.day == day, DailyRollup.metric.not_in(values))
            )
            written[day] = values
    if written:
        first, last = min(written), max(written)
        runlog.logger(__name__).info(
            "Upserted the daily rollups of %s (%s)",
            first if first == last else f"{first} to {last}",
            titles.count(len(written), "day"),
        )
    return written


def upsert(db: Session, rows: list[dict[str, Any]]) -> None:
    """Insert rows into daily_rollups, replacing the value of an existing day and metric."""
    dialect = db.get_bind().dialect.name
    if dialect == "sqlite":
        lite = sqlite.insert(DailyRollup).values(rows)
        db.execute(lite.on_conflict_do_update(index_elements=["day", "metric"], set_=_new(lite)))
    elif dialect == "postgresql":
        pg = postgresql.insert(DailyRollup).values(rows)
        db.execute(pg.on_conflict_do_update(index_elements=["day", "metric"], set_=_new(pg)))
    else:
        for row in rows:
            db.merge(DailyRollup(**row))


def _new(statement: Any) -> dict[str, Any]:
    return {"value": statement.excluded.value, "updated_at": statement.excluded.updated_at}
