"""Queue metrics end to end: jobs of both lanes wait while the worker is stopped, a scrape shows
them by job type, priority, lane and state; the worker runs them, and the outcome counters and
the pickup-latency and run-duration histograms move by exactly those jobs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from prefect.states import Crashed
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from jobs import metrics
from jobs.client import Client
from jobs.prefect_api import prefect_client
from jobs.settings import Settings
from jobs.status import Job, JobState
from tests.support.polling import wait_until
from tests.support.receiver import Receiver
from tests.support.stack import Stack

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(settings: Settings) -> Samples:
    """One scrape, parsed as Prometheus parses it: every sample by name and labels."""
    text = generate_latest(metrics.registry(settings)).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def key(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


def depth(job_type: str, priority: int, lane: str, state: str) -> Any:
    return key(
        "jobs_queue_depth", job_type=job_type, priority=str(priority), lane=lane, state=state
    )


def ours(name: Any) -> bool:
    """Whether a sample is of the job types this test submits (the server's scheduler adds
    runs of the recurring ones meanwhile)."""
    return dict(name[1]).get("job_type") in ("ping", "api_call")


def moved(before: Samples, after: Samples) -> dict[Any, float]:
    """How each sample changed (samples that appeared count from 0); unchanged ones left out."""
    return {
        name: value - before.get(name, 0.0)
        for name, value in after.items()
        if value != before.get(name, 0.0)
    }


@pytest.fixture
def stopped(stack: Stack) -> Iterator[Stack]:
    """The session's stack with its worker stopped (started again afterwards)."""
    stack.stop_worker()
    try:
        yield stack
    finally:
        stack.start_worker(limit=1)


def test_a_scrape_shows_waiting_jobs_and_then_what_ran(
    client: Client, stopped: Stack, settings: Settings
) -> None:
    receiver = Receiver.allowed(settings)
    before = scrape(client.settings)
    batched = client.submit_many("ping", [{"note": str(n)} for n in range(3)], priority=1)
    single = client.submit_many("ping", [{"note": "a"}, {"note": "b"}], priority=3, lane="flow")
    calls = client.submit_many(
        "api_call", [{"url": receiver.url(receiver.path())} for _ in range(2)], priority=2
    )
    later: list[Job] = [
        client.submit("ping", {"note": "later"}, delay=3600),
        client.submit("ping", {"note": "later"}, delay=3600, lane="flow"),
    ]
    expected = {
        depth("ping", 1, "batch", "waiting"): 3.0,
        depth("ping", 3, "flow", "waiting"): 2.0,
        depth("api_call", 2, "batch", "waiting"): 2.0,
        depth("ping", 5, "batch", "delayed"): 1.0,
        depth("ping", 5, "flow", "delayed"): 1.0,
    }
    waiting: dict[Any, float] = {}

    def shows_them() -> bool:
        waiting.clear()
        now = scrape(client.settings)
        waiting.update(
            {k: v for k, v in moved(before, now).items() if k[0] == "jobs_queue_depth" and ours(k)}
        )
        waiting["age"] = now.get(key("jobs_oldest_waiting_age_seconds", job_type="ping"), 0.0)
        return {k: v for k, v in waiting.items() if k != "age"} == expected

    wait_until(shows_them, 30, lambda: f"depths moved by {waiting}, expected {expected}")
    assert waiting["age"] > 0
    waited = scrape(client.settings)
    assert waited[key("jobs_metrics_source_up", source="prefect")] == 1
    assert waited[key("jobs_metrics_source_up", source="outbox")] == 1

    stopped.start_worker(limit=1)
    ran = [*batched, *single, *calls]
    assert all(client.wait(job, timeout=300).state is JobState.COMPLETED for job in ran)
    outcomes = {
        key("jobs_completed_total", job_type="ping", lane="batch"): 3.0,
        key("jobs_completed_total", job_type="ping", lane="flow"): 2.0,
        key("jobs_completed_total", job_type="api_call", lane="batch"): 2.0,
    }
    changes: dict[Any, float] = {}

    def counted_them() -> bool:
        changes.clear()
        changes.update(moved(waited, scrape(client.settings)))
        return all(changes.get(name) == count for name, count in outcomes.items())

    wait_until(counted_them, 30, lambda: f"samples moved by {changes}")
    for name, count in outcomes.items():
        job_type, lane = dict(name[1])["job_type"], dict(name[1])["lane"]
        for histogram in ("jobs_pickup_latency_seconds", "jobs_run_duration_seconds"):
            labels = {"job_type": job_type, "lane": lane}
            assert changes[key(f"{histogram}_count", **labels)] == count
            assert changes[key(f"{histogram}_bucket", **labels, le="+Inf")] == count
        # they waited for the worker, at least from their submit to the scrape above
        assert changes[key("jobs_pickup_latency_seconds_sum", job_type=job_type, lane=lane)] > 0
    for name in (
        depth("ping", 1, "batch", "waiting"),
        depth("ping", 3, "flow", "waiting"),
        depth("api_call", 2, "batch", "waiting"),
    ):
        assert changes[name] == -expected[name]  # back where they were before
    assert all(change >= 0 for name, change in changes.items() if name[0].endswith("_total"))
    assert not any(
        name[0] in ("jobs_failed_total", "jobs_crashed_total", "jobs_cancelled_total")
        for name in changes
    )
    last = scrape(client.settings)
    assert last[key("jobs_metrics_server_requests")] == 2  # unfinished runs, runs ended since

    # the delayed ones end otherwise: one cancelled in each lane, and a flow-lane one crashed
    crashing = client.submit("ping", {"note": "crashing"}, delay=3600, lane="flow")
    crash(client, crashing)
    for job in later:
        client.cancel(job)
    ended = {
        key("jobs_cancelled_total", job_type="ping", lane="batch"): 1.0,
        key("jobs_cancelled_total", job_type="ping", lane="flow"): 1.0,
        key("jobs_crashed_total", job_type="ping", lane="flow"): 1.0,
        depth("ping", 5, "batch", "delayed"): -1.0,
        depth("ping", 5, "flow", "delayed"): -1.0,
    }

    def counted_ends() -> bool:
        changes.clear()
        changes.update(moved(last, scrape(client.settings)))
        return all(changes.get(name) == count for name, count in ended.items())

    wait_until(counted_ends, 30, lambda: f"samples moved by {changes}, expected {ended}")
    histograms = {n: c for n, c in changes.items() if n[0].startswith(("jobs_pickup", "jobs_run"))}
    assert histograms == {}  # none of them started
    assert not any(name[0] in ("jobs_completed_total", "jobs_failed_total") for name in changes)


def crash(client: Client, job: Job) -> None:
    """Put a job that has not started into Crashed, as a lost worker's run would be."""

    async def go() -> None:
        async with prefect_client(client.settings.api_url) as prefect:
            await prefect.set_flow_run_state(job.id, Crashed(message="worker lost"), force=True)

    asyncio.run(go())
