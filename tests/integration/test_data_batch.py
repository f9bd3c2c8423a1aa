"""The chunked batch update, run in this process against a real Prefect server and the app DB:
stopped after some chunks, then run again, it finishes the job without redoing any."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flows.data import cancel_stale_orders
from jobs.data.params import CancelStaleOrders
from tests.support.data import add_user_with_orders, query

pytestmark = pytest.mark.usefixtures("prefect_server", "app_db")

ANCIENT = datetime.now(UTC) - timedelta(days=3700)  # older than anything else in the database


def statuses(user_id: int) -> dict[str, int]:
    rows = query(
        "SELECT status, count(*) AS n FROM orders WHERE user_id = :user GROUP BY status",
        user=user_id,
    )
    return {row["status"]: row["n"] for row in rows}


def test_stopped_batch_update_resumes_where_it_left_off() -> None:
    stale = [("pending", 1000 + n, ANCIENT + timedelta(minutes=n)) for n in range(35)]
    kept = [("paid", 500, ANCIENT), ("pending", 600, datetime.now(UTC) - timedelta(days=1))]
    user = add_user_with_orders([*stale, *kept], signed_up=ANCIENT - timedelta(days=1))
    params = {"older_than_days": 3650, "chunk_size": 10}

    first = cancel_stale_orders(CancelStaleOrders(**params, max_chunks=2))
    assert first == {"cancelled": 20, "chunks": 2, "remaining": 15}
    assert statuses(user) == {"cancelled": 20, "pending": 16, "paid": 1}

    second = cancel_stale_orders(CancelStaleOrders(**params))
    assert second == {"cancelled": 15, "chunks": 2, "remaining": 0}
    assert statuses(user) == {"cancelled": 35, "pending": 1, "paid": 1}

    assert cancel_stale_orders(CancelStaleOrders(**params)) == {
        "cancelled": 0,
        "chunks": 0,
        "remaining": 0,
    }
