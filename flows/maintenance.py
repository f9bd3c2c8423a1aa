"""Maintenance jobs, run on schedules (prefect.yaml) or on demand: app database cleanup, cache
files, subscription reminders and renewals, job history retention."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.client.orchestration import get_client

from jobs import titles
from jobs.aio import run_sync
from jobs.maintenance import billing, cache, database, retention
from jobs.maintenance import titles as maintenance_titles
from jobs.maintenance.params import (
    CleanupDatabase,
    InvalidateCache,
    PruneJobHistory,
    RenewSubscriptions,
    SendReminders,
)
from jobs.policy import retrying_task
from jobs.progress import Progress
from jobs.registry import JOB_TYPES
from jobs.settings import get_settings
from jobs.submitter import Submitter

DB_CLEANUP = JOB_TYPES["db_cleanup"]
CACHE_CLEANUP = JOB_TYPES["cache_cleanup"]
REMINDERS = JOB_TYPES["reminders"]
RENEWALS = JOB_TYPES["renewals"]
RETENTION = JOB_TYPES["retention"]


@retrying_task(retries=DB_CLEANUP.retries, timeout_seconds=3600)
def clean_database(params: CleanupDatabase) -> dict[str, Any]:
    return database.cleanup(get_settings(), batch_size=params.batch_size, vacuum=params.vacuum)


@flow(
    name=DB_CLEANUP.flow,
    timeout_seconds=DB_CLEANUP.time_limit,
    flow_run_name=titles.flow_run_namer(
        "db_cleanup", CleanupDatabase, maintenance_titles.db_cleanup
    ),
)
def cleanup_database(params: CleanupDatabase) -> dict[str, Any]:
    """Delete expired sessions and old ledger and HTTP-attempt rows; VACUUM/ANALYZE."""
    progress = Progress.start("Cleaning up the application database")
    outcome = clean_database(params)
    rows = [{"table": table, "deleted": n} for table, n in outcome["deleted"].items()]
    create_table_artifact(rows, description=f"Rows deleted; then ran {outcome['optimized']}")
    progress.update(100, f"{sum(outcome['deleted'].values())} rows deleted")
    return outcome


@retrying_task(retries=CACHE_CLEANUP.retries, timeout_seconds=1800)
def sweep_storage(max_age_hours: float) -> dict[str, Any]:
    swept = cache.sweep(get_settings().storage_dir, max_age_hours)
    return {"deleted": swept.deleted, "freed_bytes": swept.freed_bytes, "kept": swept.kept}


@flow(
    name=CACHE_CLEANUP.flow,
    timeout_seconds=CACHE_CLEANUP.time_limit,
    flow_run_name=titles.flow_run_namer(
        "cache_cleanup", InvalidateCache, maintenance_titles.cache_cleanup
    ),
)
def invalidate_cache(params: InvalidateCache) -> dict[str, Any]:
    """Delete generated files (exports, reports, media variants) past the cache age."""
    max_age = params.max_age_hours
    outcome = sweep_storage(get_settings().cache_max_age_hours if max_age is None else max_age)
    get_run_logger().info(
        "%d generated files deleted (%d bytes), %d files kept",
        len(outcome["deleted"]),
        outcome["freed_bytes"],
        outcome["kept"],
    )
    return outcome


@retrying_task(retries=REMINDERS.retries, timeout_seconds=600)
def submit_reminders(days_before: float, limit: int) -> list[dict[str, Any]]:
    return billing.send_reminders(Submitter.of_this_run(), days_before, limit, datetime.now(UTC))


@flow(
    name=REMINDERS.flow,
    timeout_seconds=REMINDERS.time_limit,
    flow_run_name=titles.flow_run_namer("reminders", SendReminders, maintenance_titles.reminders),
)
def send_reminders(params: SendReminders) -> int:
    """One reminder email job per subscription whose period ends soon, once per period."""
    settings = get_settings()
    days = params.days_before or settings.reminder_days_before
    submitted = submit_reminders(days, params.limit)
    if submitted:
        create_table_artifact(submitted, description=f"Reminders: periods ending within {days} d")
    return sum(1 for entry in submitted if entry["job"])


@retrying_task(retries=RENEWALS.retries, timeout_seconds=600)
def submit_renewals(limit: int) -> list[dict[str, Any]]:
    client, settings = Submitter.of_this_run(), get_settings()
    return billing.renew(client, settings, limit, datetime.now(UTC))


@flow(
    name=RENEWALS.flow,
    timeout_seconds=RENEWALS.time_limit,
    flow_run_name=titles.flow_run_namer("renewals", RenewSubscriptions, maintenance_titles.nothing),
)
def renew_subscriptions(params: RenewSubscriptions) -> int:
    """Charge each ended period once (an api_call job), then start the next period."""
    if not get_settings().billing_url:
        get_run_logger().warning("JOBS_BILLING_URL is not set: subscription renewals skipped")
        return 0
    renewed = submit_renewals(params.limit)
    if renewed:
        create_table_artifact(renewed, description="Renewals: charge jobs submitted")
    return len(renewed)


async def _prune() -> retention.Pruned:
    async with get_client() as client:
        return await retention.prune(client, retention.Policy.from_settings(get_settings()))


@retrying_task(retries=RETENTION.retries, timeout_seconds=3000)
def prune_runs() -> dict[str, int]:
    pruned = run_sync(_prune())
    return {"completed": pruned.completed, "failed": pruned.failed}


@flow(
    name=RETENTION.flow,
    timeout_seconds=RETENTION.time_limit,
    flow_run_name=titles.flow_run_namer("retention", PruneJobHistory, maintenance_titles.nothing),
)
def prune_job_history(params: PruneJobHistory) -> dict[str, int]:
    """Delete finished job runs past the retention policy (JOBS_RETENTION_*)."""
    progress = Progress.start("Deleting old job runs")
    outcome = prune_runs()
    progress.update(100, f"{outcome['completed']} completed, {outcome['failed']} failed deleted")
    return outcome
