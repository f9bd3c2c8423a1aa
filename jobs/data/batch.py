"""Batch update: cancel orders left pending too long, in chunks, one transaction per chunk.

Resumable by construction: a chunk only touches orders that are still pending and older
than the cutoff, in primary-key order, so a run stopped after any chunk (crash, time limit,
``max_chunks``) leaves a consistent state, and the next run continues with the rest.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Engine, and_, func, select, update
from sqlalchemy.orm import Session

from jobs import runlog, titles
from jobs.db.engine import get_engine
from jobs.db.models import Order

PENDING, CANCELLED = "pending", "cancelled"


def cutoff(older_than_days: int, now: datetime | None = None) -> datetime:
    """Orders created before this moment are stale."""
    return (now or datetime.now(UTC)) - timedelta(days=older_than_days)


def _stale(before: datetime) -> ColumnElement[bool]:
    return and_(Order.status == PENDING, Order.created_at < before)


def count_stale(before: datetime, engine: Engine | None = None) -> int:
    with Session(engine or get_engine()) as db:
        return db.scalar(select(func.count()).where(_stale(before))) or 0


def cancel_chunk(
    before: datetime, after_id: int, size: int, engine: Engine | None = None
) -> tuple[int, int | None]:
    """Cancel the next ``size`` stale orders with ids above ``after_id``, in one transaction.

    Returns how many were cancelled and the last id looked at (None when none were left).
    """
    with Session(engine or get_engine()) as db, db.begin():
        ids = db.scalars(
            select(Order.id)
            .where(_stale(before), Order.id > after_id)
            .order_by(Order.id)
            .limit(size)
        ).all()
        if not ids:
            return 0, None
        changed = db.execute(
            update(Order)
            .where(Order.id.in_(ids), _stale(before))
            .values(status=CANCELLED)
            .execution_options(synchronize_session=False)
        )
        count: int = changed.rowcount  # type: ignore[attr-defined]
    runlog.logger(__name__).info(
        "Cancelled %s (ids %d to %d)", titles.count(count, "stale order"), ids[0], ids[-1]
    )
    return count, ids[-1]
