"""Prometheus metrics of the queues: depth, age of the oldest waiting job, outcomes, pickup
latency and run duration, per job type (and priority), for both lanes.

``registry(settings)`` is the process's :class:`prometheus_client.CollectorRegistry` for those
settings; ``prometheus_client.generate_latest(registry(settings))`` is a scrape (sync: call it
from a thread in async code). Each collection reads, and nothing else:

- the outbox (the batched lane, and flow-lane jobs not handed over yet): one grouped count of
  its unfinished rows, and the rows finished since the previous collection, both through
  ``ix_queued_jobs_finished``;
- the Prefect server (flow-lane jobs: runs of the job types' own flows, not batch runs): the
  unfinished runs (Scheduled, Pending, Running, Cancelling), as many as the flow lane's queue
  holds, and the runs that ended since the previous collection, both filtered and paged by
  the server (200 a request).

Counters and histograms are fed incrementally from the jobs that finished since the previous
collection (looked for a little further back, :data:`OVERLAP`, to catch ends recorded late;
each end is counted once), so history is never read again; they count from the first
collection of the process. A collection is reused for :data:`CACHE_SECONDS`, so a storm of
scrapes costs one. ``jobs_metrics_server_requests`` and ``jobs_metrics_collect_seconds`` say
what the last collection cost; ``python -m bench.metrics`` measures it against the server's
CPU (the README's "Metrics" section has the figures). One run, SQLite server on 2 shared cores:
2 requests, 9 ms of server CPU and 60 ms of wall time with nothing waiting; 7 requests, 462 ms
and 1.7 s with 1,000 flow-lane and 10,000 batched jobs waiting (about 0.45 ms of server CPU
per waiting flow-lane job; batched ones cost the server nothing).
"""

from __future__ import annotations

import bisect
import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterEndTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.exceptions import PrefectHTTPStatusError
from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from sqlalchemy.exc import SQLAlchemyError

from jobs import outbox, reading
from jobs import registry as catalogue
from jobs.db.models import QueueState
from jobs.prefect_api import sync_prefect_client
from jobs.settings import Settings
from jobs.status import JobState, Lane

CACHE_SECONDS = 1.0
"""How long one collection answers every scrape."""
OVERLAP = timedelta(seconds=30)
"""How far before the previous collection finished jobs are looked for again: an end is
recorded a moment after its timestamp (a worker's commit, a state proposal in flight)."""
PAGE = 200
"""Flow runs read per request (the server's default page limit)."""
MAX_RUNS = 20_000
"""Most unfinished flow runs one collection reads (100 requests): past that, depths are cut."""
PICKUP_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600)
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600, 14400)
OUTCOMES = ("completed", "failed", "crashed", "cancelled")

_UNFINISHED = [StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.CANCELLING]
_ENDED = {
    StateType.COMPLETED: "completed",
    StateType.FAILED: "failed",
    StateType.CRASHED: "crashed",
    StateType.CANCELLED: "cancelled",
}
_ROW_OUTCOMES = {
    QueueState.COMPLETED: "completed",
    QueueState.FAILED: "failed",
    QueueState.CANCELLED: "cancelled",
}
_DEPTH_STATES = (JobState.WAITING, JobState.DELAYED, JobState.ACTIVE)

DepthKey = tuple[str, int, str, str]  # job type, priority, lane, state
TypeLane = tuple[str, str]  # job type, lane


@dataclass
class _Histogram:
    """A histogram kept across collections: counts per bucket (the last is +Inf), and sum."""

    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0

    def observe(self, value: float) -> None:
        if not self.counts:
            self.counts = [0] * (len(self.bounds) + 1)
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    def buckets(self) -> list[tuple[str, float]]:
        """Cumulative buckets, as Prometheus takes them."""
        cumulative, running = [], 0
        for bound, count in zip(
            [*map(floatToGoString, self.bounds), "+Inf"], self.counts, strict=True
        ):
            running += count
            cumulative.append((bound, float(running)))
        return cumulative


@dataclass
class _Snapshot:
    """What one collection found: depths and oldest waiting times by source."""

    depths: Counter[DepthKey] = field(default_factory=Counter)
    oldest: dict[str, datetime] = field(default_factory=dict)  # job type -> earliest due

    def waiting_since(self, job_type: str, due: datetime) -> None:
        if job_type not in self.oldest or due < self.oldest[job_type]:
            self.oldest[job_type] = due


class QueueCollector(Collector):
    """The queues' metrics, read from the outbox and the Prefect server on each collection."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._cached: list[Metric] = []
        self._cached_at = float("-inf")
        self._client: SyncPrefectClient | None = None
        self._requests = 0
        started = datetime.now(UTC)
        self._since = {"prefect": started, "outbox": started}  # the previous collections
        self._counted: dict[str, dict[tuple[str, datetime], None]] = {"prefect": {}, "outbox": {}}
        self._finished: Counter[tuple[str, str, str]] = Counter()  # (type, lane, outcome)
        self._pickup: dict[TypeLane, _Histogram] = {}
        self._duration: dict[TypeLane, _Histogram] = {}
        self._depth_keys: set[DepthKey] = set()
        self._oldest_types: set[str] = set()
        self._flows = [spec.flow for spec in catalogue.JOB_TYPES.values()]

    def describe(self) -> Iterable[Metric]:
        return []  # registering collects nothing; the names show on the first scrape

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            if time.monotonic() - self._cached_at >= CACHE_SECONDS:
                self._cached = list(self._collect())
                self._cached_at = time.monotonic()
            return list(self._cached)

    # -- reading ---------------------------------------------------------------------------

    def _collect(self) -> Iterator[Metric]:
        began = time.perf_counter()
        now = datetime.now(UTC)
        snapshot = _Snapshot()
        requests_before = self._requests
        up = {
            "outbox": self._read_outbox(now, snapshot),
            "prefect": self._read_prefect(now, snapshot),
        }
        yield from self._families(now, snapshot)
        yield _gauge(
            "jobs_metrics_source_up",
            "Whether the last collection could read the source (outbox: the application "
            "database; prefect: the Prefect server); 0: its series are missing or stale.",
            ["source"],
            {(source,): float(ok) for source, ok in up.items()},
        )
        yield _gauge(
            "jobs_metrics_server_requests",
            "Requests the last collection made to the Prefect server.",
            [],
            {(): float(self._requests - requests_before)},
        )
        yield _gauge(
            "jobs_metrics_collect_seconds",
            "Wall time of the last collection.",
            [],
            {(): time.perf_counter() - began},
        )

    def _read_outbox(self, now: datetime, snapshot: _Snapshot) -> bool:
        url = self.settings.app_database_url
        lower = self._since["outbox"] - OVERLAP
        try:
            depths = outbox.depths(now, url)
            ended = outbox.finished_since(lower, url)
        except SQLAlchemyError:
            return False
        for depth in depths:
            state = _row_depth_state(depth)
            snapshot.depths[depth.job_type, depth.priority, depth.lane, state] += depth.count
            if state == JobState.WAITING:
                snapshot.waiting_since(depth.job_type, depth.earliest)
        for row in ended:
            if not self._first_time("outbox", row.id, row.finished_at):
                continue
            key = (row.job_type, row.lane)
            self._finished[row.job_type, row.lane, _ROW_OUTCOMES[row.state]] += 1
            if row.started_at is not None and row.started_at >= row.due:  # else a start
                # before a retry, of a job cancelled before it started again
                self._observe(key, row.started_at - row.due, row.finished_at - row.started_at)
        self._advance("outbox", now)
        return True

    def _read_prefect(self, now: datetime, snapshot: _Snapshot) -> bool:
        flows = FlowFilter(name=FlowFilterName(any_=self._flows))
        unfinished = FlowRunFilter(state=_states(_UNFINISHED))
        ended = FlowRunFilter(
            state=_states(list(_ENDED)),
            end_time=FlowRunFilterEndTime(after_=self._since["prefect"] - OVERLAP),
        )
        try:
            client = self._prefect()
            waiting = self._runs(client, unfinished, flows, FlowRunSort.ID_DESC, MAX_RUNS)
            done = self._runs(client, ended, flows, FlowRunSort.END_TIME_DESC, None)
        except (httpx.HTTPError, PrefectHTTPStatusError):
            self._close()
            return False
        for run in waiting:
            state = reading.job_state(run, now)
            if state not in _DEPTH_STATES:
                continue
            job_type = catalogue.job_type_named_by(run.tags)
            priority = catalogue.priority_of(run.work_queue_name) or catalogue.NORMAL
            snapshot.depths[job_type, priority, Lane.FLOW.value, state.value] += 1
            if state is JobState.WAITING:
                due = run.next_scheduled_start_time or run.expected_start_time or run.created
                snapshot.waiting_since(job_type, due or now)
        for run in done:
            if run.end_time is None or not self._first_time("prefect", str(run.id), run.end_time):
                continue
            assert run.state is not None  # filtered by state type
            job_type = catalogue.job_type_named_by(run.tags)
            key = (job_type, Lane.FLOW.value)
            self._finished[job_type, Lane.FLOW.value, _ENDED[run.state.type]] += 1
            if run.start_time is not None and run.run_count > 0:  # it ran (a run cancelled
                # or crashed before it ever ran may have a start time too)
                due = run.expected_start_time or run.created or run.start_time
                self._observe(key, run.start_time - due, run.total_run_time)
        self._advance("prefect", now)
        return True

    def _runs(
        self,
        client: SyncPrefectClient,
        runs: FlowRunFilter,
        flows: FlowFilter,
        sort: FlowRunSort,
        most: int | None,
    ) -> list[FlowRun]:
        """Every run the filters pass, a page at a time (up to ``most``)."""
        found: dict[Any, FlowRun] = {}
        offset = 0
        while most is None or offset < most:
            page = client.read_flow_runs(
                flow_run_filter=runs, flow_filter=flows, sort=sort, limit=PAGE, offset=offset
            )
            for run in page:
                found.setdefault(run.id, run)
            if len(page) < PAGE:
                break
            offset += PAGE
        return list(found.values())

    def _first_time(self, source: str, job_id: str, ended: datetime) -> bool:
        """Whether this end of this job is new (a re-run job ends again, at a new time)."""
        counted = self._counted[source]
        if (job_id, ended) in counted:
            return False
        counted[job_id, ended] = None
        return True

    def _advance(self, source: str, now: datetime) -> None:
        """The next collection looks from ``now`` (less the overlap); ends older than that
        are forgotten."""
        self._since[source] = now
        lower = now - OVERLAP
        counted = self._counted[source]
        self._counted[source] = {key: None for key in counted if key[1] >= lower}

    def _observe(self, key: TypeLane, pickup: timedelta, duration: timedelta) -> None:
        self._pickup.setdefault(key, _Histogram(PICKUP_BUCKETS)).observe(
            max(pickup.total_seconds(), 0.0)
        )
        self._duration.setdefault(key, _Histogram(DURATION_BUCKETS)).observe(
            max(duration.total_seconds(), 0.0)
        )

    def _prefect(self) -> SyncPrefectClient:
        """The collector's client of the Prefect API, kept open between collections."""
        if self._client is None:
            hooks = {"event_hooks": {"request": [self._count_request]}}
            client = sync_prefect_client(self.settings.api_url, self.settings.server_auth, hooks)
            self._client = client.__enter__()
        return self._client

    def _count_request(self, _request: httpx.Request) -> None:
        self._requests += 1

    def _close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            with contextlib.suppress(httpx.HTTPError):
                client.__exit__(None, None, None)

    # -- the families ------------------------------------------------------------------------

    def _families(self, now: datetime, snapshot: _Snapshot) -> Iterator[Metric]:
        self._depth_keys |= set(snapshot.depths)
        yield _gauge(
            "jobs_queue_depth",
            "Unfinished jobs by job type, priority, lane and state: waiting (due, not started), "
            "delayed (scheduled for later), active (running).",
            ["job_type", "priority", "lane", "state"],
            {
                (job_type, str(priority), lane, state): float(snapshot.depths.get(key, 0))
                for key in sorted(self._depth_keys)
                for job_type, priority, lane, state in [key]
            },
        )
        self._oldest_types |= set(snapshot.oldest)
        yield _gauge(
            "jobs_oldest_waiting_age_seconds",
            "Age of the oldest waiting job of each job type, since it was due; 0: none waits.",
            ["job_type"],
            {
                (job_type,): max(0.0, (now - snapshot.oldest[job_type]).total_seconds())
                if job_type in snapshot.oldest
                else 0.0
                for job_type in sorted(self._oldest_types)
            },
        )
        for outcome in OUTCOMES:
            family = CounterMetricFamily(
                f"jobs_{outcome}",
                f"Jobs {outcome} since metrics were first collected, by job type and lane "
                "(a crashed flow-lane job may be re-run, and end again).",
                labels=["job_type", "lane"],
            )
            for job_type, lane in _type_lanes():
                family.add_metric([job_type, lane], self._finished[job_type, lane, outcome])
            yield family
        for name, text, histograms in (
            ("jobs_pickup_latency_seconds",
             "From when a job was due (created, or its scheduled time) to its start; observed "
             "when it finishes.", self._pickup),
            ("jobs_run_duration_seconds",
             "Running time of finished jobs (a flow-lane job's time in Running, summed over "
             "its runs; a batched job's last run).", self._duration),
        ):  # fmt: skip
            histogram = HistogramMetricFamily(name, text, labels=["job_type", "lane"])
            for (job_type, lane), kept in sorted(histograms.items()):
                histogram.add_metric([job_type, lane], kept.buckets(), kept.total)
            yield histogram


def _row_depth_state(depth: outbox.Depth) -> str:
    if depth.state == QueueState.RUNNING:
        return JobState.ACTIVE.value
    if depth.later:
        return JobState.DELAYED.value
    return JobState.WAITING.value


def _states(types: list[StateType]) -> FlowRunFilterState:
    return FlowRunFilterState(type=FlowRunFilterStateType(any_=types))


def _type_lanes() -> list[TypeLane]:
    """Every job type's lanes: the flow lane, and the batched lane for the types it takes."""
    return [
        (name, lane.value)
        for name, spec in sorted(catalogue.JOB_TYPES.items())
        for lane in ((Lane.FLOW, Lane.BATCH) if spec.batchable else (Lane.FLOW,))
    ]


def _gauge(
    name: str, text: str, labels: list[str], values: dict[tuple[str, ...], float]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, text, labels=labels)
    for label_values, value in values.items():
        family.add_metric(list(label_values), value)
    return family


_REGISTRIES: dict[tuple[str, str, str | None], CollectorRegistry] = {}
_REGISTRIES_LOCK = threading.Lock()


def registry(settings: Settings) -> CollectorRegistry:
    """The process's registry of the queue metrics for these settings (one per Prefect API,
    application database and credentials), made on first use."""
    auth = settings.server_auth.get_secret_value() if settings.server_auth else None
    key = (settings.api_url, settings.app_database_url, auth)
    with _REGISTRIES_LOCK:
        if key not in _REGISTRIES:
            made = CollectorRegistry(auto_describe=False)
            made.register(QueueCollector(settings))
            _REGISTRIES[key] = made
        return _REGISTRIES[key]
