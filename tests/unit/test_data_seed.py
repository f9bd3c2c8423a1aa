"""Sample data generation: deterministic, realistic spreads, consistent references."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from jobs.data.seed import Plan, generate
from jobs.db.models import LoginSession, Order, Subscription, User

NOW = datetime(2024, 6, 15, 12, tzinfo=UTC)


def test_the_same_plan_gives_the_same_rows() -> None:
    plan = Plan(n_users=200, n_orders=500, now=NOW)

    assert generate(plan) == generate(Plan(n_users=200, n_orders=500, now=NOW))
    assert generate(plan) != generate(Plan(n_users=200, n_orders=500, now=NOW, random_seed=7))


def test_rows_are_spread_realistically_around_now() -> None:
    rows = generate(Plan(n_users=1000, n_orders=4000, now=NOW))
    users, orders = rows[User], rows[Order]
    subscriptions, sessions = rows[Subscription], rows[LoginSession]
    signed_up = {user["id"]: user["created_at"] for user in users}

    assert len(users) == 1000 and len(orders) == 4000
    assert len({user["email"] for user in users}) == 1000
    assert all(NOW - timedelta(days=90) <= o["created_at"] <= NOW for o in orders)
    assert all(signed_up[o["user_id"]] <= o["created_at"] for o in orders[100:])
    statuses = Counter(order["status"] for order in orders)
    assert set(statuses) == {"paid", "pending", "refunded", "cancelled"}
    assert statuses["paid"] > statuses["pending"] > 0
    stale = [
        o for o in orders if o["status"] == "pending" and o["created_at"] < NOW - timedelta(14)
    ]
    assert stale
    due_soon = [s for s in subscriptions if NOW < s["current_period_end"] < NOW + timedelta(3)]
    assert due_soon and any(s["current_period_end"] < NOW for s in subscriptions)
    assert any(s["expires_at"] < NOW for s in sessions)
    assert any(s["expires_at"] > NOW for s in sessions)
    assert len({s["token"] for s in sessions}) == len(sessions)
