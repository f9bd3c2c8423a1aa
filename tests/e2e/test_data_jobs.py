"""Data jobs end to end: jobs.Client -> Prefect server -> warm worker -> app DB, files, SMTP."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
from sqlalchemy import select

from jobs.aio import run_sync
from jobs.client import Client
from jobs.data import dates
from jobs.db.engine import session
from jobs.db.models import QueuedJob
from jobs.settings import Settings
from jobs.status import JobState, Lane
from tests.support.data import (
    add_user_with_orders,
    csv_rows,
    ensure_sample_data,
    parquet_rows,
    query,
    stored_time,
    weekly_figures,
    xlsx_rows,
)
from tests.support.runs import names_and_logs
from tests.support.smtp import Recorder

ANCIENT = datetime.now(UTC) - timedelta(days=3700)


@pytest.fixture(scope="module")
def week(stack: object) -> list[date]:
    """The app DB seeded as by `make up`, plus orders of our own in the last full week."""
    ensure_sample_data()
    days = dates.week_days(dates.last_full_week_ending(dates.today()))
    noon = [dates.start_of(day) + timedelta(hours=12) for day in days]
    own = [("paid", 2500, noon[0]), ("refunded", 900, noon[2]), ("paid", 7300, noon[6])]
    add_user_with_orders(own, signed_up=noon[1])
    return days


def completed(client: Client, job_type: str, params: dict[str, object]) -> UUID:
    job = client.submit(job_type, params)
    status = client.wait(job, timeout=120)
    assert status.state is JobState.COMPLETED, status.failure_reason
    assert status.progress == 100
    return job.id


def test_export_files_read_back_equal_to_the_table(
    client: Client, settings: Settings, week: list[date]
) -> None:
    since = dates.start_of(week[0])
    job_id = completed(
        client, "export", {"table": "orders", "since": since.isoformat(), "chunk_size": 500}
    )

    expected = query(
        "SELECT * FROM orders WHERE created_at >= :since ORDER BY id",
        since=since.strftime("%Y-%m-%d %H:%M:%S"),
    )
    folder = settings.storage_dir / "exports"
    assert len(expected) > 1000  # several chunks
    for kind in ("csv", "parquet", "xlsx"):
        rows = {"csv": csv_rows, "parquet": parquet_rows, "xlsx": xlsx_rows}[kind](
            folder / f"orders-{job_id}.{kind}"
        )
        assert [int(row["id"]) for row in rows] == [row["id"] for row in expected]
        slack = timedelta(milliseconds=1 if kind == "xlsx" else 0)
        for row, want in zip(rows, expected, strict=True):
            assert (row["status"], int(row["total_cents"]), int(row["user_id"])) == (
                want["status"],
                want["total_cents"],
                want["user_id"],
            )
            assert abs(stored_time(row["created_at"]) - stored_time(want["created_at"])) <= slack
    name, _tasks, logs = names_and_logs(job_id, "Exported")
    assert name == f"export orders (csv, xlsx, parquet) since {week[0]}"
    exported = sorted(line.split(" (")[0] for line in logs if line.startswith("Exported"))
    assert exported == [
        f"Exported {len(expected):,} rows of orders to exports/orders-{job_id}.{kind}"
        for kind in ("csv", "parquet", "xlsx")
    ]


def test_weekly_report_matches_sql_and_is_mailed_with_its_chart(
    client: Client, settings: Settings, smtp: Recorder, week: list[date]
) -> None:
    job_id = completed(client, "report", {"week_ending": str(week[-1])})

    expected = weekly_figures(week[0], week[-1])
    rows = csv_rows(settings.storage_dir / "reports" / f"weekly-{week[-1]}.csv")
    assert [row["day"] for row in rows] == [str(day) for day in week]
    counts = ("orders", "paid_orders", "refunded_orders", "signups")
    for row in rows:
        want = expected.get(row["day"], {})
        assert [int(row[name]) for name in counts] == [want.get(name, 0) for name in counts]
        assert float(row["revenue"]) == round(want.get("revenue_cents", 0) / 100, 2)

    [email_job] = jobs_tagged(f"report:{job_id}")
    assert client.wait(email_job, timeout=120).state is JobState.COMPLETED
    [message] = smtp.to("ops@example.com")
    assert message["Subject"] == f"Weekly report {week[0]} to {week[-1]} (EUR)"
    chart = settings.storage_dir / "reports" / f"weekly-{week[-1]}.png"
    attached = {part.get_filename(): part for part in message.iter_attachments()}
    png = attached[chart.name]
    assert png.get_content_type() == "image/png"
    assert png.get_content() == chart.read_bytes()
    assert f"weekly-{week[-1]}.csv" in attached


def jobs_tagged(tag: str) -> list[UUID]:
    """Jobs of either lane carrying ``tag``: flow runs, and batched jobs in the outbox."""

    async def read() -> list[UUID]:
        async with get_client() as prefect:
            runs = await prefect.read_flow_runs(
                flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[tag]))
            )
            return [run.id for run in runs]

    with session() as db:
        rows = db.scalars(select(QueuedJob).where(QueuedJob.lane == Lane.BATCH))
        batched = [UUID(row.id) for row in rows if tag in row.tags]
    return run_sync(read()) + batched


def test_rollup_writes_the_days_metrics(client: Client, week: list[date]) -> None:
    completed(client, "rollup", {"start": str(week[0]), "end": str(week[1])})

    expected = weekly_figures(week[0], week[1])
    for day in week[:2]:  # each has seeded orders and our own signup or order
        stored = query("SELECT metric, value FROM daily_rollups WHERE day = :day", day=str(day))
        got = {row["metric"]: row["value"] for row in stored}
        want = expected[str(day)]
        assert got == {
            "orders": want["orders"],
            "orders_paid": want["paid_orders"],
            "orders_refunded": want["refunded_orders"],
            "signups": want["signups"],
            "revenue_cents_eur": want["revenue_cents"],
        }


def test_stopped_batch_update_is_finished_by_the_next_run(client: Client) -> None:
    stale = [("pending", 100 + n, ANCIENT + timedelta(minutes=n)) for n in range(12)]
    user = add_user_with_orders(stale, signed_up=ANCIENT - timedelta(days=1))
    params = {"older_than_days": 3650, "chunk_size": 5}

    def pending() -> int:
        rows = query(
            "SELECT count(*) AS n FROM orders WHERE user_id = :u AND status = 'pending'", u=user
        )
        return int(rows[0]["n"])

    completed(client, "cancel_stale_orders", {**params, "max_chunks": 1})
    assert pending() == 7
    completed(client, "cancel_stale_orders", params)
    assert pending() == 0


def test_weekly_report_is_scheduled_mondays_at_nine_utc(client: Client) -> None:
    async def read() -> tuple[list[str], dict[str, object]]:
        async with get_client() as prefect:
            deployment = await prefect.read_deployment_by_name("weekly-report/report")
            crons = [getattr(s.schedule, "cron", "") for s in deployment.schedules if s.active]
            return crons, deployment.parameters

    crons, parameters = run_sync(read())

    assert crons == ["0 9 * * 1"]
    assert parameters == {"params": {}}  # a scheduled run reports on the last full week
