"""Subjects of data run names (see jobs/titles.py): table, formats, days; never filter values."""

from __future__ import annotations

from jobs.data.params import CancelStaleOrders, DailyRollups, ExportTable, WeeklyReport


def export(params: ExportTable) -> str:
    """``orders (csv, parquet)``, then ``since 2026-01-01`` and ``until ...`` when set."""
    text = f"{params.table} ({', '.join(params.formats)})"
    if params.since is not None:
        text += f" since {params.since.date()}"
    if params.until is not None:
        text += f" until {params.until.date()}"
    return text


def report(params: WeeklyReport) -> str:
    """``week ending 2026-11-22 (EUR)``."""
    return f"week ending {params.resolved_week_ending()} ({params.currency})"


def rollup(params: DailyRollups) -> str:
    """``2026-11-16 to 2026-11-22``."""
    start, end = params.resolved()
    return f"{start} to {end}"


def stale_orders(params: CancelStaleOrders) -> str:
    """``pending over 14 days``."""
    return f"pending over {params.older_than_days} days"
