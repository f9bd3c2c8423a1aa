"""Reminder and renewal jobs' parameters, keys and period arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from jobs.email import render
from jobs.errors import PermanentJobError
from jobs.maintenance.billing import Due, add_months, as_utc, reminder_email, renewal_charge

END = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)


def due(period_end: datetime = END) -> Due:
    return Due(7, "pro", 2900, "EUR", period_end, "ada@example.com", "Ada")


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (datetime(2026, 1, 15, tzinfo=UTC), 1, datetime(2026, 2, 15, tzinfo=UTC)),
        (datetime(2026, 1, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2028, 1, 31, tzinfo=UTC), 1, datetime(2028, 2, 29, tzinfo=UTC)),
        (datetime(2026, 12, 10, tzinfo=UTC), 1, datetime(2027, 1, 10, tzinfo=UTC)),
        (datetime(2026, 3, 31, tzinfo=UTC), 12, datetime(2027, 3, 31, tzinfo=UTC)),
        (datetime(2026, 5, 31, 23, 59, tzinfo=UTC), 13, datetime(2027, 6, 30, 23, 59, tzinfo=UTC)),
    ],
)
def test_periods_advance_by_calendar_months(
    start: datetime, months: int, expected: datetime
) -> None:
    assert add_months(start, months) == expected


def test_keys_name_the_subscription_and_its_period_in_utc() -> None:
    naive = END.replace(tzinfo=None)  # as SQLite gives it back
    elsewhere = END.astimezone(timezone(timedelta(hours=2)))

    assert due(naive).key("renewal") == "renewal-7-2026-01-31T09:30:00+00:00"
    assert due(elsewhere).key("renewal") == due(naive).key("renewal")
    assert due().key("reminder") != due().key("renewal")
    assert as_utc(naive) == END


def test_the_reminder_is_the_reminder_template_sent_once_per_period() -> None:
    email = reminder_email(due())

    body = render.render(email.template or "", email.context)
    assert email.to == ["ada@example.com"]
    assert email.template == "reminder"
    assert email.message_key == "reminder-7-2026-01-31T09:30:00+00:00"
    assert email.subject == "Your pro plan renews on 2026-01-31"
    assert "Hi Ada" in body.text
    assert "29.00 EUR" in body.text and "2026-01-31 09:30 UTC" in body.text


def test_the_charge_carries_its_idempotency_key_to_the_billing_api() -> None:
    charge = renewal_charge(due(), "https://billing.example.com/v1/charges")

    key = "renewal-7-2026-01-31T09:30:00+00:00"
    assert charge.method == "POST"
    assert charge.headers == {"Idempotency-Key": key}
    assert charge.json_body == {
        "subscription_id": 7,
        "plan": "pro",
        "amount_cents": 2900,
        "currency": "EUR",
        "period_end": "2026-01-31T09:30:00+00:00",
        "idempotency_key": key,
    }


def test_an_unusable_billing_url_fails_the_renewals_for_good() -> None:
    with pytest.raises(PermanentJobError, match="JOBS_BILLING_URL is not usable"):
        renewal_charge(due(), "ftp://billing.example.com/charges")


def test_the_billing_credentials_come_from_a_secret_block() -> None:
    charge = renewal_charge(due(), "https://billing.example.com/v1/charges", "billing-api-key")

    assert charge.secret_headers == {"Authorization": "billing-api-key"}
    assert "Authorization" not in charge.headers
