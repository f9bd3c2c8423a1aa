"""Realistic, deterministic sample data for the app database (users, orders, subscriptions,
sessions); does nothing when users already exist."""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

from jobs.db.engine import get_engine
from jobs.db.models import LoginSession, Order, Subscription, User

FIRST = "Ada Alan Barbara Grace Linus Guido Margaret Ken Dennis Frances Edsger Radia Tim Anita"
LAST = "Lovelace Turing Liskov Hopper Torvalds Rossum Hamilton Thompson Ritchie Allen Perlman"
ORDER_STATUSES = (("paid", 80), ("pending", 9), ("refunded", 6), ("cancelled", 5))
PLANS = (("basic", 900), ("pro", 2900), ("team", 9900))
SUBSCRIPTION_STATUSES = (("active", 85), ("past_due", 7), ("cancelled", 8))
Row = dict[str, Any]


@dataclass
class Plan:
    """What to generate: counts, time spans and the random seed."""

    n_users: int = 5000
    n_orders: int = 20_000
    subscription_share: float = 0.4
    sessions_per_user: float = 1.5
    signup_days: int = 180
    order_days: int = 90
    random_seed: int = 42
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))


def seed(url: str | None = None, *, force: bool = False, **plan: Any) -> int:
    """Fill the app database with sample data unless it has users; returns users inserted.

    Keyword arguments are :class:`Plan` fields (``n_users=...``, ``n_orders=...``, ...);
    ``force`` adds the data even when there are users (new ids and addresses).
    """
    return seed_engine(get_engine(url), Plan(**plan), force=force)


def seed_engine(engine: Engine, plan: Plan, *, force: bool = False) -> int:
    with Session(engine) as db, db.begin():
        if not force and db.scalar(select(func.count()).select_from(User)):
            return 0
        first_id = (db.scalar(select(func.max(User.id))) or 0) + 1
        for model, rows in generate(plan, first_id).items():
            if rows:
                db.execute(insert(model), rows)
    return plan.n_users


def generate(plan: Plan, first_id: int = 1) -> dict[type[Any], list[Row]]:
    """The rows to insert, per model; the same plan always gives the same rows."""
    rng = random.Random(plan.random_seed)
    users = _users(rng, plan, first_id)
    return {
        User: users,
        Order: _orders(rng, plan, users),
        Subscription: _subscriptions(rng, plan, users),
        LoginSession: _sessions(rng, plan, users),
    }


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([name for name, _ in weighted], [w for _, w in weighted])[0]


def _users(rng: random.Random, plan: Plan, first_id: int) -> list[Row]:
    span = plan.signup_days * 86400
    offsets = sorted(span * rng.random() ** 0.7 for _ in range(plan.n_users))  # growing signups
    first, last = FIRST.split(), LAST.split()
    return [
        {
            "id": first_id + index,
            "email": f"user{first_id + index:06d}@example.com",
            "name": f"{rng.choice(first)} {rng.choice(last)}",
            "created_at": plan.now - timedelta(seconds=span - offset),
        }
        for index, offset in enumerate(offsets)
    ]


def _order_time(rng: random.Random, plan: Plan) -> datetime:
    while True:
        when = plan.now - timedelta(seconds=rng.random() * plan.order_days * 86400)
        if when.weekday() < 5 or rng.random() < 0.7:  # fewer orders at weekends
            return when


def _orders(rng: random.Random, plan: Plan, users: list[Row]) -> list[Row]:
    signups = [user["created_at"] for user in users]
    rows = []
    for when in sorted(_order_time(rng, plan) for _ in range(plan.n_orders)):
        known = max(1, bisect.bisect_right(signups, when))  # only users signed up by then
        status = _pick(rng, ORDER_STATUSES)
        rows.append(
            {
                "user_id": users[rng.randrange(known)]["id"],
                "status": status,
                "total_cents": max(199, int(rng.lognormvariate(8.2, 0.6))),
                "currency": "EUR",
                "created_at": when,
            }
        )
    return rows


def _subscriptions(rng: random.Random, plan: Plan, users: list[Row]) -> list[Row]:
    chosen = rng.sample(users, int(len(users) * plan.subscription_share))
    rows = []
    for user in sorted(chosen, key=lambda row: row["id"]):
        name, price = rng.choice(PLANS)
        rows.append(
            {
                "user_id": user["id"],
                "plan": name,
                "price_cents": price,
                "currency": "EUR",
                "status": _pick(rng, SUBSCRIPTION_STATUSES),
                "current_period_end": plan.now + timedelta(hours=rng.uniform(-10, 30) * 24),
                "created_at": user["created_at"] + timedelta(hours=rng.uniform(0, 48)),
            }
        )
    return rows


def _sessions(rng: random.Random, plan: Plan, users: list[Row]) -> list[Row]:
    count = int(len(users) * plan.sessions_per_user)
    return [
        {
            "user_id": rng.choice(users)["id"],
            "token": f"{rng.getrandbits(256):064x}",
            "expires_at": plan.now + timedelta(hours=rng.uniform(-30, 30) * 24),
        }
        for _ in range(count)
    ]
