"""Maintenance end to end: recurring jobs run now through the API by the worker, and the
operator gets an alert email when a job type fails too often."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client

from deployments import automations
from jobs.client import Client, _sync
from jobs.status import JobState
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

    _sync(apply())
    yield address
    _sync(remove())


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


@pytest.mark.parametrize("name", ["db_cleanup", "reminders", "renewals", "retention"])
def test_each_maintenance_job_run_now_completes(client: Client, name: str) -> None:
    status = client.wait(client.trigger_recurring(name), timeout=120)

    assert status.state is JobState.COMPLETED, status.failure_reason
    assert status.job_type == name


def test_failures_crossing_the_threshold_email_the_operator(
    client: Client, smtp: Recorder, operator: str
) -> None:
    failing = {
        "to": ["nobody@example.com"],  # refused with 550 by the test SMTP server: fails at once
        "subject": "Bounce",
        "text": "This one cannot be delivered.",
    }
    jobs = client.submit_many("email", [failing, failing])
    assert all(client.wait(job, timeout=120).state is JobState.FAILED for job in jobs)

    deadline = time.monotonic() + 90  # automations evaluate events asynchronously
    while not smtp.to(operator) and time.monotonic() < deadline:
        time.sleep(0.5)

    [alert] = smtp.to(operator)
    assert alert["Subject"] == "[jobs alert] send-email/email: 2 failed runs within 10 min"
    text = alert.get_body(preferencelist=("plain",)).get_content()
    assert "failed or crashed 2 times within 10 minutes" in text
    assert "nobody@example.com" in text  # the latest failure's reason
    assert f"{client.settings.ui_url}/deployments/deployment/" in text
