"""Data jobs: export a table, the weekly report, daily rollups, cancel stale orders.

pandas, pyarrow and matplotlib are imported inside the tasks, in the flow-run process: the warm
worker's forkserver preloads this module and must start no threads (those libraries do).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run

from jobs import titles
from jobs.data import batch, dates, rollup
from jobs.data import titles as data_titles
from jobs.data.params import CancelStaleOrders, DailyRollups, ExportTable, WeeklyReport
from jobs.policy import retrying_task
from jobs.progress import Progress
from jobs.registry import JOB_TYPES
from jobs.settings import get_settings

EXPORT = JOB_TYPES["export"]
REPORT = JOB_TYPES["report"]
ROLLUP = JOB_TYPES["rollup"]
STALE_ORDERS = JOB_TYPES["cancel_stale_orders"]

if TYPE_CHECKING:
    from jobs.data.report import Report


@retrying_task(
    retries=EXPORT.retries,
    timeout_seconds=3 * 3600,
    name="write-export",
    task_run_name=titles.task_run_namer("write-export", ExportTable, data_titles.export),
)
def write_export(params: ExportTable, job_id: str, progress: Progress) -> dict[str, Any]:
    from jobs.data import export

    def on_chunk(rows: int, total: int) -> None:
        progress.update(100 * rows / max(total, 1), f"{rows} of {total} rows written")

    result = export.run(params, job_id, on_chunk=on_chunk)
    return {"rows": result.rows, "chunks": result.chunks, "files": result.files}


@flow(
    name=EXPORT.flow,
    timeout_seconds=EXPORT.time_limit,
    flow_run_name=titles.flow_run_namer("export", ExportTable, data_titles.export),
)
def export_table(params: ExportTable) -> dict[str, Any]:
    """Export an allow-listed table to CSV, XLSX and/or Parquet in <storage>/exports/."""
    progress = Progress.start(f"Exporting {params.table}")
    outcome = write_export(params, str(flow_run.id), progress)
    files = "\n".join(f"- {kind}: `{path}`" for kind, path in outcome["files"].items())
    create_markdown_artifact(f"# Export of {params.table}: {outcome['rows']} rows\n\n{files}\n")
    progress.update(100, f"{outcome['rows']} rows exported")
    return outcome


@retrying_task(
    retries=REPORT.retries,
    timeout_seconds=600,
    name="build-report",
    task_run_name="build-report week ending {week_ending} ({currency})",
)
def build_report(week_ending: date, currency: str) -> Report:
    from jobs.data import report

    return report.build(week_ending, currency)


@retrying_task(retries=REPORT.retries, timeout_seconds=120)
def email_report(built: Report, recipients: list[str], job_id: str) -> str:
    from jobs.data import notify

    return notify.submit(notify.email(built, recipients), job_id)


@flow(
    name=REPORT.flow,
    timeout_seconds=REPORT.time_limit,
    flow_run_name=titles.flow_run_namer("report", WeeklyReport, data_titles.report),
)
def weekly_report(params: WeeklyReport) -> dict[str, Any]:
    """Aggregate one week; write CSV, XLSX and a chart; mail them through an email job."""
    from jobs.data.report import markdown

    week_ending, job_id = params.resolved_week_ending(), str(flow_run.id)
    progress = Progress.start(f"Weekly report, week ending {week_ending}")
    built = build_report(week_ending, params.currency)
    progress.update(70, "files written")
    recipients = list(params.recipients or get_settings().report_recipients)
    email_job = email_report(built, recipients, job_id) if recipients else None
    create_table_artifact(built.rows(), key="weekly-report-table", description=built.title)
    create_markdown_artifact(markdown(built, email_job), key="weekly-report")
    progress.update(100, f"done; email job {email_job}")
    files = {kind: str(path) for kind, path in built.files.items()}
    return {"week_ending": str(week_ending), "files": files, "email_job": email_job}


@retrying_task(retries=ROLLUP.retries, timeout_seconds=600)
def rollup_days(days: list[date]) -> dict[date, dict[str, float]]:
    return rollup.rollup_days(days)


@flow(
    name=ROLLUP.flow,
    timeout_seconds=ROLLUP.time_limit,
    flow_run_name=titles.flow_run_namer("rollup", DailyRollups, data_titles.rollup),
)
def daily_rollup(params: DailyRollups) -> int:
    """Recompute the daily_rollups metrics of each day in the range (upsert per day+metric)."""
    start, end = params.resolved()
    days = list(dates.days_between(start, end))
    progress = Progress.start(f"Rolling up {start} to {end}")
    table: list[dict[str, Any]] = []
    for first in range(0, len(days), dates.WEEK):
        written = rollup_days(days[first : first + dates.WEEK])
        table += [{"day": str(day), **values} for day, values in written.items()]
        progress.update(100 * len(table) / len(days), f"{len(table)} of {len(days)} days")
    create_table_artifact(table, description=f"Daily rollups {start} to {end}")
    return len(table)


@retrying_task(retries=STALE_ORDERS.retries, timeout_seconds=60)
def count_stale(before: datetime) -> int:
    return batch.count_stale(before)


@retrying_task(retries=STALE_ORDERS.retries, timeout_seconds=600)
def cancel_chunk(before: datetime, after_id: int, size: int) -> tuple[int, int | None]:
    return batch.cancel_chunk(before, after_id, size)


@flow(
    name=STALE_ORDERS.flow,
    timeout_seconds=STALE_ORDERS.time_limit,
    flow_run_name=titles.flow_run_namer(
        "cancel_stale_orders", CancelStaleOrders, data_titles.stale_orders
    ),
)
def cancel_stale_orders(params: CancelStaleOrders) -> dict[str, int]:
    """Cancel orders pending for too long, a chunk per transaction; a re-run continues."""
    before = batch.cutoff(params.older_than_days)
    stale = count_stale(before)
    progress = Progress.start(f"Cancelling {stale} orders pending since before {before:%F %T}")
    cancelled, chunks, after_id = 0, 0, 0
    while params.max_chunks is None or chunks < params.max_chunks:
        count, last_id = cancel_chunk(before, after_id, params.chunk_size)
        if last_id is None:
            break
        cancelled, chunks, after_id = cancelled + count, chunks + 1, last_id
        progress.update(100 * cancelled / max(stale, 1), f"{cancelled} of {stale} cancelled")
    outcome = {"cancelled": cancelled, "chunks": chunks, "remaining": count_stale(before)}
    create_table_artifact([outcome], description="Stale pending orders cancelled")
    progress.update(100, f"{cancelled} cancelled, {outcome['remaining']} left")
    return outcome
