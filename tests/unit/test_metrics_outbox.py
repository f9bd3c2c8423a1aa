"""Queue metrics from the outbox alone (the batched lane): a real SQLite application database,
a Prefect server that cannot be reached (its source reported down, the rest still served)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from jobs import metrics, outbox
from jobs.db.engine import session
from jobs.db.migrate import migrate
from jobs.db.models import QueuedJob, QueueState
from jobs.settings import Settings

DEAD_URL = "http://127.0.0.1:9/api"  # the discard port: nothing answers there


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    migrate(url)
    yield Settings(prefect_api_url=DEAD_URL, database_url=url)


def scrape(settings: Settings) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a fresh collection, by name and labels."""
    collector = next(iter(metrics.registry(settings)._collector_to_names))
    assert isinstance(collector, metrics.QueueCollector)
    collector._cached_at = float("-inf")  # this test's steps are closer than the cache's 1 s
    text = generate_latest(metrics.registry(settings)).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def label(**labels: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def add(settings: Settings, job_type: str, priority: int, **changes: Any) -> str:
    lane = changes.pop("lane", "batch")
    run_at = changes.pop("run_at", None)
    [added] = outbox.add_now(
        [outbox.NewJob(job_type, lane, {}, priority, [], run_at=run_at)],
        settings.app_database_url,
    )
    if changes:
        with session(settings.app_database_url) as db, db.begin():
            db.execute(update(QueuedJob).where(QueuedJob.id == added.id).values(**changes))
    return added.id


def depth(job_type: str, priority: int, lane: str, state: str) -> tuple[str, Any]:
    labels = label(job_type=job_type, priority=str(priority), lane=lane, state=state)
    return ("jobs_queue_depth", labels)


def test_outbox_depths_by_type_priority_lane_and_state(settings: Settings) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    for _ in range(3):
        add(settings, "email", 1)
    add(settings, "email", 5, run_at=later)
    add(settings, "email", 5, state=QueueState.ASSIGNED)
    add(settings, "email", 5, state=QueueState.DISPATCHED, run_id="r1")
    add(settings, "ping", 10, state=QueueState.RUNNING, started_at=datetime.now(UTC))
    add(settings, "report", 5, lane="flow")  # a flow-lane job not handed over yet
    # a flow-lane job handed over: its run is its record (read from the server), not its row
    add(settings, "report", 5, lane="flow", state=QueueState.DISPATCHED, run_id="r2")
    add(settings, "ping", 10, state=QueueState.COMPLETED)

    samples = scrape(settings)

    assert samples[depth("email", 1, "batch", "waiting")] == 3
    assert samples[depth("email", 5, "batch", "delayed")] == 1
    assert samples[depth("email", 5, "batch", "waiting")] == 2  # assigned + dispatched
    assert samples[depth("ping", 10, "batch", "active")] == 1
    assert samples[depth("report", 5, "flow", "waiting")] == 1
    assert sum(v for (name, _), v in samples.items() if name == "jobs_queue_depth") == 8
    assert samples[("jobs_oldest_waiting_age_seconds", label(job_type="email"))] > 0
    assert samples[("jobs_metrics_source_up", label(source="outbox"))] == 1
    assert samples[("jobs_metrics_source_up", label(source="prefect"))] == 0


def test_jobs_finished_since_the_last_collection_are_counted_once(settings: Settings) -> None:
    first = scrape(settings)  # counting starts here
    ok = ("jobs_completed_total", label(job_type="ping", lane="batch"))
    failed = ("jobs_failed_total", label(job_type="ping", lane="batch"))
    assert first[ok] == 0 and first[failed] == 0
    now = datetime.now(UTC)
    due, late = now - timedelta(seconds=3), now - timedelta(seconds=41)
    add(settings, "ping", 5, state=QueueState.COMPLETED, created_at=due, run_at=due,
        started_at=now - timedelta(seconds=2), finished_at=now)  # fmt: skip
    add(settings, "ping", 5, state=QueueState.FAILED, created_at=late, run_at=late,
        started_at=now - timedelta(seconds=1), finished_at=now)  # fmt: skip
    add(settings, "ping", 5, state=QueueState.CANCELLED, finished_at=now)  # never started
    # retried, then cancelled before it started again: its start is the earlier attempt's
    add(settings, "ping", 5, state=QueueState.CANCELLED, created_at=late, run_at=due,
        started_at=late, finished_at=now)  # fmt: skip
    add(settings, "ping", 5, state=QueueState.COMPLETED, finished_at=now - timedelta(hours=1))

    second = scrape(settings)
    third = scrape(settings)  # nothing new finished: nothing counted twice

    for samples in (second, third):
        assert samples[ok] == 1 and samples[failed] == 1
        assert samples[("jobs_cancelled_total", label(job_type="ping", lane="batch"))] == 2
        pickup = label(job_type="ping", lane="batch")
        assert samples[("jobs_pickup_latency_seconds_count", pickup)] == 2  # started ones
        assert samples[("jobs_pickup_latency_seconds_sum", pickup)] == pytest.approx(41, abs=0.01)
        assert samples[("jobs_pickup_latency_seconds_bucket", (*pickup, ("le", "1.0")))] == 1
        assert samples[("jobs_pickup_latency_seconds_bucket", (*pickup, ("le", "60.0")))] == 2
        assert samples[("jobs_run_duration_seconds_sum", pickup)] == pytest.approx(3, abs=0.01)


def test_the_grafana_dashboard_asks_only_for_exposed_metrics(settings: Settings) -> None:
    dashboard = Path(__file__).resolve().parents[2] / "deploy" / "grafana-dashboard.json"
    exprs = [target["expr"] for panel in json.loads(dashboard.read_text())["panels"]
             for target in panel["targets"]]  # fmt: skip
    scrape(settings)
    now = datetime.now(UTC)
    due = now - timedelta(seconds=2)
    add(settings, "ping", 5, state=QueueState.COMPLETED, created_at=due, run_at=due,
        started_at=now - timedelta(seconds=1), finished_at=now)  # fmt: skip
    add(settings, "ping", 5)

    exposed = {name for name, _ in scrape(settings)}

    asked = {name for expr in exprs for name in re.findall(r"\bjobs_[a-z_]+", expr)}
    assert len(asked) >= 10 and asked <= exposed, asked - exposed
