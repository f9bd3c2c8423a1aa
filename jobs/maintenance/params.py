"""Parameters of the maintenance job types; each runs on a schedule (prefect.yaml) or on demand."""

from __future__ import annotations

from pydantic import Field

from jobs.params import JobParams


class CleanupDatabase(JobParams):
    """Delete expired sessions and old ledger and HTTP-attempt rows, then VACUUM/ANALYZE."""

    batch_size: int = Field(5000, ge=1, le=100_000, description="Rows deleted per transaction.")
    vacuum: bool = Field(True, description="VACUUM (SQLite) and ANALYZE afterwards.")


class InvalidateCache(JobParams):
    """Delete generated files older than the cache age under the storage root."""

    max_age_hours: float | None = Field(
        None, ge=0, description="Age after which files go; default JOBS_CACHE_MAX_AGE_HOURS."
    )


class SendReminders(JobParams):
    """Email users whose subscription period ends soon (once per subscription and period)."""

    days_before: float | None = Field(
        None, gt=0, le=60, description="How far ahead to look; default JOBS_REMINDER_DAYS_BEFORE."
    )
    limit: int = Field(1000, ge=1, le=100_000, description="Most reminders submitted per run.")


class RenewSubscriptions(JobParams):
    """Charge active subscriptions whose period ended (one api_call job each), then advance them."""

    limit: int = Field(500, ge=1, le=100_000, description="Most renewals per run.")


class PruneJobHistory(JobParams):
    """Delete old finished job runs (with their task runs, logs and artifacts) from Prefect."""
