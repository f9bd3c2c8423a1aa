"""Reminders and renewals with a real SQLite database (its own file) and the real Prefect
server: one job per subscription and period, however often they run."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prefect.client.orchestration import get_client
from sqlalchemy import Engine, insert, select, update

from jobs import outbox
from jobs.aio import run_sync
from jobs.client import Client
from jobs.db.models import Subscription, User
from jobs.maintenance.billing import add_months, as_utc, renew, send_reminders
from jobs.settings import Settings
from jobs.status import JobStatus
from tests.support.receiver import Receiver
from tests.support.runs import discard

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def submitted() -> Iterator[list[str]]:
    """Ids of the jobs a test submitted: removed afterwards, so no worker runs them later."""
    ids: list[str] = []
    yield ids

    async def remove() -> None:
        async with get_client() as prefect:
            await discard(prefect, [uuid.UUID(i) for i in ids])

    run_sync(remove())
    for job_id in ids:  # batched follow-ups wait in the outbox: cancelled, never relayed
        outbox.cancel(job_id, "cleaned up after the test")


def subscribe(
    engine: Engine,
    period_end: datetime,
    status: str = "active",
    plan: str = "pro",
    email: str | None = None,
) -> int:
    with engine.begin() as db:
        email = email or f"sub-{uuid.uuid4().hex[:10]}@example.com"
        user = db.execute(insert(User).values(email=email, name="Ada")).inserted_primary_key[0]
        values = {
            "user_id": user,
            "plan": plan,
            "price_cents": 2900,
            "status": status,
            "current_period_end": period_end,
        }
        return int(db.execute(insert(Subscription).values(values)).inserted_primary_key[0])


def period_end(engine: Engine, subscription_id: int) -> datetime:
    with engine.connect() as db:
        query = select(Subscription.current_period_end).where(Subscription.id == subscription_id)
        return as_utc(db.scalar(query))  # type: ignore[arg-type]


def job_status(client: Client, job_id: str) -> JobStatus:
    return client.status(job_id)


def test_one_reminder_per_subscription_and_period(
    client: Client, engine: Engine, submitted: list[str]
) -> None:
    soon = subscribe(engine, NOW + timedelta(days=2))
    subscribe(engine, NOW + timedelta(days=5))  # later
    subscribe(engine, NOW + timedelta(days=1), status="cancelled")
    subscribe(engine, NOW - timedelta(hours=1))  # already ended: a renewal, not a reminder
    unmailable = subscribe(engine, NOW + timedelta(days=2, hours=1), email="legacy-user")

    first = send_reminders(client, days_before=3, limit=100, now=NOW, engine=engine)
    submitted += [entry["job"] for entry in first if entry["job"]]
    again = send_reminders(client, days_before=3, limit=100, now=NOW, engine=engine)

    assert [entry["subscription"] for entry in first] == [soon, unmailable]
    assert first[1]["job"] is None and "not a valid email address" in first[1]["skipped"]
    assert again == first  # the same job, not a second one
    reminder = job_status(client, first[0]["job"])
    key = f"reminder-{soon}-{(NOW + timedelta(days=2)).isoformat()}"
    assert reminder.idempotency_key == key
    assert reminder.params["message_key"] == key  # the ledger sends it once
    assert reminder.params["template"] == "reminder"
    assert reminder.params["to"] == [first[0]["to"]]
    assert "reminder" in reminder.tags


def test_each_ended_period_is_charged_once_then_advanced(
    client: Client, engine: Engine, settings: Settings, submitted: list[str]
) -> None:
    receiver = Receiver.allowed(settings)  # answers 200, in case a worker runs the charges
    billing = settings.model_copy(
        update={"billing_url": receiver.url(receiver.path()), "plan_period_months": {"team": 12}}
    )
    pro_end, team_end = NOW - timedelta(hours=1), NOW - timedelta(days=2)
    pro, team = subscribe(engine, pro_end), subscribe(engine, team_end, plan="team")
    future = subscribe(engine, NOW + timedelta(days=1))

    renewed = renew(client, billing, limit=100, now=NOW, engine=engine)
    submitted += [entry["job"] for entry in renewed]
    nothing_left = renew(client, billing, limit=100, now=NOW, engine=engine)

    assert [(e["subscription"], e["advanced"]) for e in renewed] == [(team, True), (pro, True)]
    assert nothing_left == []
    assert period_end(engine, pro) == add_months(pro_end, 1)
    assert period_end(engine, team) == add_months(team_end, 12)
    assert period_end(engine, future) == NOW + timedelta(days=1)
    charge = job_status(client, renewed[1]["job"])
    key = f"renewal-{pro}-{pro_end.isoformat()}"
    assert charge.idempotency_key == key
    assert charge.params["url"] == billing.billing_url
    assert charge.params["headers"] == {"Idempotency-Key": key}
    assert charge.params["json_body"]["amount_cents"] == 2900


def test_a_renewal_run_again_for_the_same_period_charges_nothing_new(
    client: Client, engine: Engine, settings: Settings, submitted: list[str]
) -> None:
    receiver = Receiver.allowed(settings)
    billing = settings.model_copy(update={"billing_url": receiver.url(receiver.path())})
    ended = NOW - timedelta(hours=3)
    subscription = subscribe(engine, ended)
    [first] = renew(client, billing, limit=100, now=NOW, engine=engine)
    submitted.append(first["job"])
    with engine.begin() as db:  # as if that run had died before it advanced the period
        db.execute(
            update(Subscription)
            .where(Subscription.id == subscription)
            .values(current_period_end=ended)
        )

    [again] = renew(client, billing, limit=100, now=NOW, engine=engine)

    assert again["job"] == first["job"]  # the same charge job: no second charge
    assert again["advanced"]
    assert period_end(engine, subscription) == add_months(ended, 1)


def test_without_a_billing_url_nothing_is_renewed(client: Client, engine: Engine) -> None:
    ended = subscribe(engine, NOW - timedelta(hours=1))

    assert renew(client, client.settings, limit=100, now=NOW, engine=engine) == []
    assert period_end(engine, ended) == NOW - timedelta(hours=1)
