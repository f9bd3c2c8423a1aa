"""Maintenance end to end: recurring jobs run now through the API by the worker, and the
operator gets an alert email when a job type fails too often."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
from prefect.client.schemas.objects import FlowRun
from sqlalchemy import insert

from deployments import automations
from jobs.aio import run_sync
from jobs.client import Client
from jobs.db.engine import get_engine
from jobs.db.models import Subscription, User
from jobs.status import JobState
from tests.support.polling import wait_until
from tests.support.smtp import Recorder
from tests.support.stack import Stack


@pytest.fixture(scope="module")
def operator(stack: Stack) -> Iterator[str]:
    """The alert automations, alerting at 2 failures, to an address of this module's own;
    removed afterwards so no other test gets alert emails."""
    address = f"ops-{uuid.uuid4().hex[:8]}@example.com"
    strict = stack.settings.model_copy(
        update={"alert_failure_threshold": 2, "alert_email": address}
    )

    async def apply() -> None:
        async with get_client() as prefect:
            await automations.apply(prefect, strict)

    async def remove() -> None:
        async with get_client() as prefect:
            for automation in await prefect.read_automations():
                if automation.name.startswith(automations.PREFIX):
                    await prefect.delete_automation(automation.id)

    run_sync(apply())
    yield address
    run_sync(remove())


def aged(path: Path, days: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("generated")
    stamp = time.time() - days * 86400
    os.utime(path, (stamp, stamp))
    return path


def test_cache_cleanup_run_now_deletes_old_generated_files(client: Client) -> None:
    root = client.settings.storage_dir
    tag = uuid.uuid4().hex[:8]
    stale = aged(root / "exports" / f"e2e-{tag}.csv", days=8)
    fresh = aged(root / "exports" / f"e2e-{tag}-fresh.csv", days=1)
    source = aged(root / "e2e" / f"{tag}.jpg", days=30)
    variant = aged(root / "e2e" / f"{tag}.thumb-150.webp", days=30)

    status = client.wait(client.trigger_recurring("cache_cleanup"), timeout=120)

    assert status.state is JobState.COMPLETED, status.failure_reason
    assert status.job_type == "cache_cleanup"
    assert not stale.exists() and not variant.exists()
    assert fresh.exists() and source.exists()


@pytest.mark.parametrize("name", ["db_cleanup", "renewals", "retention"])
def test_each_maintenance_job_run_now_completes(client: Client, name: str) -> None:
    status = client.wait(client.trigger_recurring(name), timeout=120)

    assert status.state is JobState.COMPLETED, status.failure_reason
    assert status.job_type == name


def subscriber(period_end: datetime) -> str:
    """A user of our own (in the session's app DB) whose pro plan's period ends then."""
    address = f"subscriber-{uuid.uuid4().hex[:8]}@example.com"
    with get_engine().begin() as db:
        user = db.execute(insert(User).values(email=address, name="Grace")).inserted_primary_key
        values = {"plan": "pro", "price_cents": 2900, "status": "active"}
        db.execute(
            insert(Subscription).values(user_id=user[0], current_period_end=period_end, **values)
        )
    return address


def reminder_jobs_finished(client: Client) -> None:
    """Wait for every reminder email job, so none is delivered during a later test."""

    async def unfinished() -> list[FlowRun]:
        async with get_client() as prefect:
            runs = await prefect.read_flow_runs(
                flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=["reminder"]))
            )
        return [run for run in runs if not (run.state and run.state.is_final())]

    for run in run_sync(unfinished()):
        client.wait(run.id, timeout=120)


def test_a_reminder_reaches_the_subscriber_once_however_often_the_job_runs(
    client: Client, smtp: Recorder, app_db: str
) -> None:
    address = subscriber(datetime.now(UTC) + timedelta(minutes=2))
    window = {"days_before": 4 / (24 * 60)}  # 4 minutes: ours, hardly any seeded one

    first = client.wait(client.submit("reminders", window), timeout=120)
    second = client.wait(client.submit("reminders", window), timeout=120)
    reminder_jobs_finished(client)

    assert first.state is second.state is JobState.COMPLETED, first.failure_reason
    [reminder] = smtp.to(address)
    assert reminder["Subject"].startswith("Your pro plan renews on ")
    assert "Hi Grace" in reminder.get_body(preferencelist=("plain",)).get_content()


def test_batched_failures_crossing_the_threshold_email_the_operator(
    client: Client, smtp: Recorder, operator: str
) -> None:
    failing = {"to": ["nobody@example.com"], "subject": "Bounce", "text": "Undeliverable."}
    jobs = client.submit_many("email", [failing, failing])  # two task runs of one batch
    assert all(client.wait(job, timeout=120).state is JobState.FAILED for job in jobs)

    subject = "[jobs alert] run-batch/email: 2 failed jobs within 10 min"
    wait_until(
        lambda: [msg for msg in smtp.to(operator) if msg["Subject"] == subject],
        90,
        f"a batched-failures alert reached {operator}",
    )
    [alert] = [msg for msg in smtp.to(operator) if msg["Subject"] == subject]
    text = alert.get_body(preferencelist=("plain",)).get_content()
    assert "failed 2 times within 10 minutes" in text
    assert "send-email → nobody@example.com (Failed: " in text  # the latest job and reason
    assert f"{client.settings.ui_url}/deployments/deployment/" in text


def test_failures_crossing_the_threshold_email_the_operator(
    client: Client, smtp: Recorder, operator: str
) -> None:
    failing = {
        "to": ["nobody@example.com"],  # refused with 550 by the test SMTP server: fails at once
        "subject": "Bounce",
        "text": "This one cannot be delivered.",
    }
    jobs = client.submit_many("email", [failing, failing], lane="flow")  # two flow runs
    assert all(client.wait(job, timeout=120).state is JobState.FAILED for job in jobs)

    # automations evaluate events asynchronously
    wait_until(lambda: smtp.to(operator), 90, f"an alert email reached {operator}")

    [alert] = [msg for msg in smtp.to(operator) if "send-email/email" in msg["Subject"]]
    assert alert["Subject"] == "[jobs alert] send-email/email: 2 failed runs within 10 min"
    text = alert.get_body(preferencelist=("plain",)).get_content()
    assert "failed or crashed 2 times within 10 minutes" in text
    assert "nobody@example.com" in text  # the latest failure's reason
    assert f"{client.settings.ui_url}/deployments/deployment/" in text
