"""The weekly report and the daily rollups against the real SQLite app database."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from jobs.data import dates, notify, report, rollup
from jobs.db.engine import session
from jobs.db.models import DailyRollup
from jobs.errors import PermanentJobError
from tests.support.data import (
    add_user_with_orders,
    csv_rows,
    ensure_sample_data,
    query,
    weekly_figures,
    xlsx_rows,
)

pytestmark = pytest.mark.usefixtures("app_db")


def at(day: date, hours: float) -> datetime:
    return dates.start_of(day) + timedelta(hours=hours)


@pytest.fixture(scope="module")
def week() -> list[date]:
    """The last full week, seeded, plus orders of our own at the edges of its days."""
    ensure_sample_data()
    days = dates.week_days(dates.last_full_week_ending(dates.today()))
    own = [
        ("paid", 1999, at(days[0], 0)),
        ("paid", 5001, at(days[0], 23.99)),
        ("refunded", 700, at(days[3], 12)),
        ("paid", 4200, at(days[6], 23.999)),
        ("paid", 9999, at(days[6], 24)),  # the Monday after: not in the week
    ]
    add_user_with_orders(own, signed_up=at(days[2], 8))
    return days


def test_report_csv_matches_an_independent_query(week: list[date]) -> None:
    built = report.build(week[-1], "EUR")

    expected = weekly_figures(week[0], week[-1])
    rows = csv_rows(built.files["csv"])
    assert [row["day"] for row in rows] == [str(day) for day in week]
    for row in rows:
        want = expected.get(row["day"], {})
        for column in ("orders", "paid_orders", "refunded_orders", "signups"):
            assert int(row[column]) == want.get(column, 0), (row["day"], column)
        assert float(row["revenue"]) == round(want.get("revenue_cents", 0) / 100, 2)
    assert sum(int(row["orders"]) for row in rows) >= 4


def test_report_files_agree_and_the_chart_is_a_png(week: list[date]) -> None:
    built = report.build(week[-1], "EUR")

    from_csv = [
        {k: _number(v) for k, v in row.items() if k != "day"}
        for row in csv_rows(built.files["csv"])
    ]
    from_xlsx = [
        {k: v for k, v in row.items() if k != "day"} for row in xlsx_rows(built.files["xlsx"])
    ]
    assert from_xlsx == from_csv
    assert built.files["png"].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert built.files["png"].name == f"weekly-{week[-1]}.png"
    assert f"Orders: {built.totals()['orders']}" in report.summary(built)


def _number(text: str) -> Any:
    return float(text) if "." in text else int(text)


def test_rollups_match_an_independent_query_and_upsert(week: list[date]) -> None:
    days = week[:3]
    with session() as db, db.begin():
        db.add(DailyRollup(day=days[0], metric="revenue_cents_gbp", value=5.0))

    rollup.rollup_days(days)
    add_user_with_orders([("paid", 1234, at(days[1], 6))], signed_up=at(days[1], 5))
    rollup.rollup_days(days)

    expected = weekly_figures(days[0], days[-1])
    stored = query(
        "SELECT day, metric, value FROM daily_rollups WHERE day BETWEEN :first AND :last",
        first=str(days[0]),
        last=str(days[-1]),
    )
    got = {(row["day"], row["metric"]): row["value"] for row in stored}
    want = {}
    for day in map(str, days):
        figures = expected.get(day, {"orders": 0, "paid_orders": 0, "refunded_orders": 0})
        want[(day, "orders")] = figures["orders"]
        want[(day, "orders_paid")] = figures["paid_orders"]
        want[(day, "orders_refunded")] = figures["refunded_orders"]
        want[(day, "signups")] = figures.get("signups", 0)
        if figures["orders"]:  # revenue per currency the day has orders in; no GBP
            want[(day, "revenue_cents_eur")] = figures["revenue_cents"]
    assert got == want
    assert len(stored) == len(want)  # one row per day and metric


def test_report_email_carries_chart_and_csv_and_refuses_bad_recipients(week: list[date]) -> None:
    built = report.build(week[-1], "EUR")

    message = notify.email(built, ["ops@example.com"])

    assert [a.filename for a in message.attachments] == [
        f"weekly-{week[-1]}.png",
        f"weekly-{week[-1]}.csv",
    ]
    assert message.attachments[0].content == built.files["png"].read_bytes()
    assert message.text is not None and "Revenue:" in message.text
    with pytest.raises(PermanentJobError, match="cannot mail the report to \\['not-an-address'\\]"):
        notify.email(built, ["not-an-address"])
