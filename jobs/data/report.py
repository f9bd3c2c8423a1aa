"""The weekly report: orders, revenue and signups per day of one week, as CSV, XLSX and PNG."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from jobs.data import chart, dates, storage
from jobs.db.engine import get_engine
from jobs.db.models import Order, User

COLUMNS = ["orders", "paid_orders", "refunded_orders", "revenue", "average_paid_order", "signups"]


@dataclass
class Report:
    """One week's figures and the files they were written to."""

    week_ending: date
    currency: str
    table: pd.DataFrame  # one row per day, indexed by day
    files: dict[str, Path]

    @property
    def first_day(self) -> date:
        return self.week_ending - timedelta(days=dates.WEEK - 1)

    @property
    def title(self) -> str:
        return f"Weekly report {self.first_day} to {self.week_ending} ({self.currency})"

    def totals(self) -> dict[str, Any]:
        sums = self.table[["orders", "paid_orders", "refunded_orders", "signups"]].sum()
        totals: dict[str, Any] = {str(name): int(value) for name, value in sums.items()}
        return {**totals, "revenue": round(float(self.table["revenue"].sum()), 2)}

    def rows(self) -> list[dict[str, Any]]:
        """The table as JSON-ready rows (for a table artifact)."""
        records = self.table.reset_index().to_dict(orient="records")
        return [{str(k): str(v) if k == "day" else v for k, v in r.items()} for r in records]


def load(engine: Engine, days: list[date], currency: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The week's orders in ``currency`` and its signups, straight from the app database."""
    start, end = dates.start_of(days[0]), dates.start_of(days[-1] + timedelta(days=1))
    orders = select(Order.status, Order.total_cents, Order.created_at).where(
        Order.currency == currency, Order.created_at >= start, Order.created_at < end
    )
    signups = select(User.created_at).where(User.created_at >= start, User.created_at < end)
    with engine.connect() as connection:
        return pd.read_sql(orders, connection), pd.read_sql(signups, connection)


def _day(frame: pd.DataFrame) -> pd.Series[Any]:
    return pd.to_datetime(frame["created_at"], utc=True).dt.date


def daily(orders: pd.DataFrame, signups: pd.DataFrame, days: list[date]) -> pd.DataFrame:
    """Per day: orders placed, paid and refunded, paid revenue, average paid order, signups."""
    paid = orders[orders["status"] == "paid"]
    refunded = orders[orders["status"] == "refunded"]
    table = pd.DataFrame(
        {
            "orders": orders.groupby(_day(orders)).size(),
            "paid_orders": paid.groupby(_day(paid)).size(),
            "refunded_orders": refunded.groupby(_day(refunded)).size(),
            "revenue": paid.groupby(_day(paid))["total_cents"].sum() / 100,
            "signups": signups.groupby(_day(signups)).size(),
        }
    )
    table = table.reindex(pd.Index(days, name="day")).fillna(0)
    counts = ["orders", "paid_orders", "refunded_orders", "signups"]
    table[counts] = table[counts].astype("int64")
    average = (table["revenue"] / table["paid_orders"].where(table["paid_orders"] > 0)).fillna(0)
    table["average_paid_order"] = average.round(2)
    table["revenue"] = table["revenue"].round(2)
    return table[COLUMNS]


def build(week_ending: date, currency: str, engine: Engine | None = None) -> Report:
    """Aggregate the week and write ``<storage>/reports/weekly-<week ending>.{csv,xlsx,png}``."""
    days = dates.week_days(week_ending)
    table = daily(*load(engine or get_engine(), days, currency), days)
    folder = storage.folder("reports")
    files = {kind: folder / f"weekly-{week_ending}.{kind}" for kind in ("csv", "xlsx", "png")}
    report = Report(week_ending, currency, table, files)
    with storage.atomic(files["csv"]) as path:
        table.to_csv(path)
    with storage.atomic(files["xlsx"]) as path:
        table.to_excel(path, sheet_name=f"week to {week_ending}", engine="openpyxl")
    with storage.atomic(files["png"]) as path:
        chart.render(table, report.title, currency, path)
    for path in files.values():
        storage.log_written(path)
    return report


def summary(report: Report) -> str:
    """Plain-text summary: the week's totals, then the daily table."""
    totals = report.totals()
    return (
        f"{report.title}\n\n"
        f"Orders: {totals['orders']} (paid {totals['paid_orders']}, "
        f"refunded {totals['refunded_orders']})\n"
        f"Revenue: {totals['revenue']:.2f} {report.currency}\n"
        f"Signups: {totals['signups']}\n\n"
        f"{report.table.to_string()}\n"
    )


def markdown(report: Report, email_job: str | None) -> str:
    """Markdown for the report artifact: totals and links to the files."""
    totals = report.totals()
    links = ", ".join(f"[{path.name}]({path.resolve().as_uri()})" for path in report.files.values())
    mailed = f"Emailed by job `{email_job}`." if email_job else "Not emailed (no recipients)."
    return (
        f"# {report.title}\n\n"
        f"Orders **{totals['orders']}**, revenue **{totals['revenue']:.2f} {report.currency}**, "
        f"signups **{totals['signups']}**.\n\nFiles: {links}\n\n{mailed}\n"
    )
