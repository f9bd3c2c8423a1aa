"""Parameters of the data jobs: allow-listed tables and columns, ranges, defaults."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from jobs.data import dates
from jobs.data.params import CancelStaleOrders, DailyRollups, ExportTable, WeeklyReport
from jobs.errors import InvalidJobParams
from jobs.registry import job_type, validate


def invalid(kind: str, params: dict[str, Any]) -> str:
    with pytest.raises(InvalidJobParams) as caught:
        validate(job_type(kind), params)
    return str(caught.value)


def test_export_defaults_to_every_allowed_column_and_format() -> None:
    params = validate(job_type("export"), {"table": "orders"})

    assert isinstance(params, ExportTable)
    assert params.columns is None
    assert params.formats == ["csv", "xlsx", "parquet"]


@pytest.mark.parametrize("table", ["side_effects", "webhook_endpoints", "orders; DROP TABLE x"])
def test_export_refuses_tables_outside_the_allow_list(table: str) -> None:
    message = invalid("export", {"table": table})

    assert "table: Value error, must be one of the exportable tables users, orders" in message
    assert repr(table) in message


def test_export_refuses_columns_outside_the_allow_list() -> None:
    message = invalid("export", {"table": "sessions", "columns": ["id", "token"]})

    assert "columns ['token'] are not exportable from sessions" in message
    assert "allowed: id, user_id, expires_at" in message


def test_export_refuses_filters_on_columns_outside_the_allow_list() -> None:
    message = invalid("export", {"table": "sessions", "where": {"token": "abc"}})

    assert "columns ['token'] are not exportable from sessions" in message


def test_export_refuses_an_empty_or_reversed_time_range() -> None:
    message = invalid(
        "export",
        {"table": "orders", "since": "2024-02-01T00:00:00Z", "until": "2024-01-01T00:00:00Z"},
    )

    assert "since must be before until" in message


def test_export_refuses_naive_times_duplicate_formats_and_unknown_formats() -> None:
    assert "timezone" in invalid("export", {"table": "orders", "since": "2024-01-01T00:00:00"})
    assert "listed once" in invalid("export", {"table": "orders", "formats": ["csv", "csv"]})
    assert "'csv', 'xlsx' or 'parquet'" in invalid(
        "export", {"table": "orders", "formats": ["pdf"]}
    )


def test_report_refuses_a_week_in_the_future() -> None:
    future = dates.today() + timedelta(days=3)

    assert f"must not be in the future (today is {dates.today()}); got {future}" in invalid(
        "report", {"week_ending": str(future)}
    )


def test_report_defaults_to_the_last_full_week() -> None:
    week_ending = WeeklyReport().resolved_week_ending()

    assert week_ending.isoweekday() == 7
    assert 1 <= (dates.today() - week_ending).days <= 7


@pytest.mark.parametrize(
    ("today", "sunday"),
    [
        (date(2024, 6, 10), date(2024, 6, 9)),  # Monday: yesterday's week
        (date(2024, 6, 12), date(2024, 6, 9)),  # Wednesday
        (date(2024, 6, 16), date(2024, 6, 9)),  # Sunday: this week is not over yet
    ],
)
def test_last_full_week_ends_on_the_sunday_before(today: date, sunday: date) -> None:
    assert dates.last_full_week_ending(today) == sunday
    assert dates.week_days(sunday) == [sunday - timedelta(days=n) for n in range(6, -1, -1)]


def test_rollup_range_defaults_and_limits() -> None:
    start, end = DailyRollups().resolved()

    assert end == dates.today() - timedelta(days=1)
    assert (end - start).days == 6
    assert "start must be on or before end" in invalid(
        "rollup", {"start": "2024-02-02", "end": "2024-02-01"}
    )
    assert "covers at most 366 days; got 367 days" in invalid(
        "rollup", {"start": "2023-01-01", "end": "2024-01-02"}
    )


def test_cancel_stale_orders_bounds() -> None:
    assert CancelStaleOrders().older_than_days == 14
    assert "greater than or equal to 1" in invalid("cancel_stale_orders", {"chunk_size": 0})
    assert "max_chunks" in invalid("cancel_stale_orders", {"max_chunks": 0})
