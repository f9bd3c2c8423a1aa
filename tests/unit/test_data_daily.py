"""The weekly report's aggregation, on hand-made frames."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd

from jobs.data import dates
from jobs.data.report import COLUMNS, daily


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2024, 6, day, hour, tzinfo=UTC)


def test_daily_counts_sums_and_fills_days_without_activity() -> None:
    orders = pd.DataFrame(
        {
            "status": ["paid", "paid", "pending", "refunded", "paid"],
            "total_cents": [1000, 2550, 700, 900, 4000],
            "created_at": [at(3, 0), at(3, 23), at(3), at(5), at(9)],
        }
    )
    signups = pd.DataFrame({"created_at": [at(4), at(4), at(9)]})
    days = dates.week_days(date(2024, 6, 9))

    table = daily(orders, signups, days)

    assert list(table.columns) == COLUMNS
    assert list(table.index) == days
    monday, wednesday, sunday = (
        table.loc[date(2024, 6, 3)],
        table.loc[date(2024, 6, 5)],
        table.loc[date(2024, 6, 9)],
    )
    assert (monday["orders"], monday["paid_orders"], monday["revenue"]) == (3, 2, 35.5)
    assert monday["average_paid_order"] == 17.75
    assert (wednesday["refunded_orders"], wednesday["revenue"]) == (1, 0)
    assert wednesday["average_paid_order"] == 0
    assert (sunday["orders"], sunday["revenue"], sunday["signups"]) == (1, 40.0, 1)
    assert table["signups"].tolist() == [0, 2, 0, 0, 0, 0, 1]
    assert str(table["orders"].dtype) == "int64"


def test_daily_of_an_empty_week_is_all_zeros() -> None:
    empty = pd.DataFrame({"status": [], "total_cents": [], "created_at": []})
    days = dates.week_days(date(2024, 6, 9))

    table = daily(empty, pd.DataFrame({"created_at": []}), days)

    assert len(table) == 7
    assert table.to_numpy().sum() == 0
