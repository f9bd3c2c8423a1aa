"""Parameters of the data job types: export, report, rollup and cancel-stale-orders."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal, Self

from pydantic import AwareDatetime, EmailStr, Field, field_validator, model_validator

from jobs.data import dates, tables
from jobs.params import JobParams

ExportFormat = Literal["csv", "xlsx", "parquet"]
Scalar = str | int | float | bool
MAX_ROLLUP_DAYS = 366


class ExportTable(JobParams):
    """Export an allow-listed table (or some of its columns) to CSV, Excel and/or Parquet."""

    table: str = Field(description="One of the exportable tables (see jobs/data/tables.py).")
    columns: list[str] | None = Field(None, min_length=1, description="Default: all allowed.")
    formats: list[ExportFormat] = Field(["csv", "xlsx", "parquet"], min_length=1, max_length=3)
    since: AwareDatetime | None = Field(None, description="Rows whose time column is >= this.")
    until: AwareDatetime | None = Field(None, description="Rows whose time column is < this.")
    where: dict[str, Scalar | list[Scalar]] = Field(
        default_factory=dict, max_length=10, description="Column = value (or IN list) filters."
    )
    chunk_size: int = Field(5000, ge=100, le=100_000, description="Rows read and written at once.")

    @field_validator("table")
    @classmethod
    def _allowed_table(cls, name: str) -> str:
        return tables.check_table(name)

    @field_validator("formats")
    @classmethod
    def _unique_formats(cls, formats: list[ExportFormat]) -> list[ExportFormat]:
        if len(set(formats)) != len(formats):
            raise ValueError(f"formats must be listed once each; got {formats}")
        return formats

    @model_validator(mode="after")
    def _allowed_columns_and_range(self) -> Self:
        if self.columns is not None:
            tables.check_columns(self.table, self.columns)
        tables.check_columns(self.table, list(self.where))
        if self.since and self.until and self.since >= self.until:
            raise ValueError(f"since must be before until; got {self.since} >= {self.until}")
        return self


class WeeklyReport(JobParams):
    """Orders, revenue and signups per day for one Monday-to-Sunday week, mailed to operators."""

    week_ending: date | None = Field(
        None, description="Last day of the week; default: the last full week's Sunday."
    )
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$", description="Orders in this currency.")
    recipients: list[EmailStr] | None = Field(
        None, max_length=50, description="Default: the JOBS_REPORT_RECIPIENTS setting."
    )

    @field_validator("week_ending")
    @classmethod
    def _not_in_future(cls, day: date | None) -> date | None:
        if day is not None and day > dates.today():
            raise ValueError(f"must not be in the future (today is {dates.today()}); got {day}")
        return day

    def resolved_week_ending(self) -> date:
        return self.week_ending or dates.last_full_week_ending(dates.today())


class DailyRollups(JobParams):
    """Recompute the daily_rollups metrics of each day from start to end (both included)."""

    start: date | None = Field(None, description="First day; default: six days before end.")
    end: date | None = Field(None, description="Last day; default: yesterday (UTC).")

    @model_validator(mode="after")
    def _sane_range(self) -> Self:
        start, end = self.resolved()
        if start > end:
            raise ValueError(f"start must be on or before end; got {start} > {end}")
        if (end - start).days >= MAX_ROLLUP_DAYS:
            raise ValueError(
                f"covers at most {MAX_ROLLUP_DAYS} days; got {(end - start).days + 1} days"
            )
        return self

    def resolved(self) -> tuple[date, date]:
        end = self.end or dates.today() - timedelta(days=1)
        return self.start or end - timedelta(days=6), end


class CancelStaleOrders(JobParams):
    """Mark pending orders older than N days as cancelled, in chunks (resumable)."""

    older_than_days: int = Field(14, ge=1, le=3650, description="Pending at least this long.")
    chunk_size: int = Field(1000, ge=1, le=50_000, description="Orders per transaction.")
    max_chunks: int | None = Field(
        None, ge=1, description="Stop after this many chunks; a later run continues."
    )
