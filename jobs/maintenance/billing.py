"""Subscription reminders and renewals, submitted as ordinary jobs (``email``, ``api_call``).

Both are idempotent per subscription and period: every job carries the key
``<reminder|renewal>-<subscription id>-<period end, ISO 8601>`` as its idempotency key, so a
re-run (or a retried task) for the same period gets the same job back instead of a new one.
Reminder emails also use it as their message key (the ledger sends each at most once), and
the charge request sends it as its ``Idempotency-Key`` header, for the billing API to drop
repeats. A renewal moves the period on only after its charge job was submitted, and only if
the row still has the period it was read with, so two renewers never both advance it.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, Engine, select, update
from sqlalchemy.orm import Session

from jobs import runlog, titles
from jobs.db.engine import get_engine
from jobs.db.models import Subscription, User
from jobs.email.params import SendEmail
from jobs.errors import PermanentJobError
from jobs.outbound.params import ApiCall
from jobs.settings import Settings
from jobs.submitter import Submitter

ACTIVE = "active"


@dataclass(frozen=True)
class Due:
    """A subscription whose period ends (or ended), with its user."""

    subscription_id: int
    plan: str
    price_cents: int
    currency: str
    period_end: datetime  # as stored; compared as is when the period is advanced
    email: str
    name: str

    @property
    def period_end_utc(self) -> datetime:
        return as_utc(self.period_end)

    def key(self, kind: str) -> str:
        """``<kind>-<subscription id>-<period end>``: one per subscription, period and kind."""
        return f"{kind}-{self.subscription_id}-{self.period_end_utc.isoformat()}"


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC; naive values (SQLite gives those back) are taken to be UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def add_months(value: datetime, months: int) -> datetime:
    """``value`` moved ``months`` calendar months on; the day is clipped to the month's end."""
    index = value.month - 1 + months
    year, month = value.year + index // 12, index % 12 + 1
    return value.replace(year=year, month=month, day=min(value.day, _days_in(year, month)))


def _days_in(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _due(*conditions: ColumnElement[bool], limit: int, engine: Engine | None) -> list[Due]:
    query = (
        select(Subscription, User)
        .join(User, User.id == Subscription.user_id)
        .where(Subscription.status == ACTIVE, *conditions)
        .order_by(Subscription.current_period_end, Subscription.id)
        .limit(limit)
    )
    with Session(engine or get_engine()) as db:
        return [
            Due(s.id, s.plan, s.price_cents, s.currency, s.current_period_end, u.email, u.name)
            for s, u in db.execute(query)
        ]


def ending_within(
    now: datetime, window: timedelta, limit: int, engine: Engine | None = None
) -> list[Due]:
    """Active subscriptions whose period ends after ``now`` and at most ``window`` later."""
    end = Subscription.current_period_end
    return _due(end > now, end <= now + window, limit=limit, engine=engine)


def ended(now: datetime, limit: int, engine: Engine | None = None) -> list[Due]:
    """Active subscriptions whose period ended at or before ``now``, oldest first."""
    return _due(Subscription.current_period_end <= now, limit=limit, engine=engine)


def reminder_email(due: Due) -> SendEmail:
    """The ``reminder`` template email for ``due``, keyed by subscription and period."""
    amount = f"{due.price_cents / 100:.2f} {due.currency}"
    return SendEmail(
        to=[due.email],
        subject=f"Your {due.plan} plan renews on {due.period_end_utc:%Y-%m-%d}",
        template="reminder",
        context={
            "name": due.name,
            "what": f"the renewal of your {due.plan} plan ({amount})",
            "due_at": f"{due.period_end_utc:%Y-%m-%d %H:%M} UTC",
        },
        message_key=due.key("reminder"),
    )


def renewal_charge(due: Due, billing_url: str, auth_secret: str | None = None) -> ApiCall:
    """The charge request for ``due``'s ended period, sent to the billing API."""
    key = due.key("renewal")
    try:
        return ApiCall(
            method="POST",
            url=billing_url,
            headers={"Idempotency-Key": key},
            secret_headers={"Authorization": auth_secret} if auth_secret else {},
            json_body={
                "subscription_id": due.subscription_id,
                "plan": due.plan,
                "amount_cents": due.price_cents,
                "currency": due.currency,
                "period_end": due.period_end_utc.isoformat(),
                "idempotency_key": key,
            },
        )
    except ValidationError as exc:
        raise PermanentJobError(f"JOBS_BILLING_URL is not usable ({billing_url!r}): {exc}") from exc


def advance(due: Due, months: int, engine: Engine | None = None) -> bool:
    """Move the period end on by ``months``, unless someone else already did."""
    with (engine or get_engine()).begin() as db:
        result = db.execute(
            update(Subscription)
            .where(
                Subscription.id == due.subscription_id,
                Subscription.status == ACTIVE,
                Subscription.current_period_end == due.period_end,
            )
            .values(current_period_end=add_months(due.period_end_utc, months))
        )
        return int(result.rowcount) == 1


def _mailable(dues: list[Due]) -> tuple[list[tuple[Due, SendEmail]], list[dict[str, Any]]]:
    """The reminders to send, and the subscriptions whose user's address cannot take one."""
    ready, skipped = [], []
    for due in dues:
        try:
            ready.append((due, reminder_email(due)))
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"]
            skipped.append(
                {
                    "subscription": due.subscription_id,
                    "to": due.email,
                    "job": None,
                    "skipped": reason,
                }
            )
    return ready, skipped


def send_reminders(
    client: Submitter, days_before: float, limit: int, now: datetime, engine: Engine | None = None
) -> list[dict[str, Any]]:
    """Submit one reminder email job per subscription ending soon; what was submitted (and
    skipped: users whose address is not a valid one)."""
    ready, skipped = _mailable(ending_within(now, timedelta(days=days_before), limit, engine))
    if not ready:
        return skipped
    emails = [email for _, email in ready]
    keys = [due.key("reminder") for due, _ in ready]
    jobs = client.submit_many("email", emails, idempotency_keys=keys, tags=["reminder"])
    runlog.logger(__name__).info("Submitted %s", titles.count(len(jobs), "reminder email job"))
    submitted = [
        {"subscription": due.subscription_id, "to": due.email, "job": str(job.id)}
        for (due, _), job in zip(ready, jobs, strict=True)
    ]
    return submitted + skipped


def renew(
    client: Submitter, settings: Settings, limit: int, now: datetime, engine: Engine | None = None
) -> list[dict[str, Any]]:
    """Submit one charge job per ended period, then advance each period; what was renewed."""
    if not settings.billing_url:
        return []
    dues = ended(now, limit, engine)
    if not dues:
        return []
    charges = [
        renewal_charge(due, settings.billing_url, settings.billing_auth_secret) for due in dues
    ]
    keys = [due.key("renewal") for due in dues]
    jobs = client.submit_many("api_call", charges, idempotency_keys=keys, tags=["renewal"])
    runlog.logger(__name__).info(
        "Submitted %s to %s",
        titles.count(len(jobs), "charge job"),
        titles.host(settings.billing_url),
    )
    return [
        {
            "subscription": due.subscription_id,
            "job": str(job.id),
            "advanced": advance(due, settings.plan_period_months.get(due.plan, 1), engine),
        }
        for due, job in zip(dues, jobs, strict=True)
    ]
