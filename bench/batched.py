"""The batched lane, measured end to end, and what it is measured against.

``python -m bench.batched`` (and ``make bench``, after the queue benchmark) brings up one
stack in a temporary home — Prefect server (SQLite, or PostgreSQL with ``--database-url`` or
``JOBS_PREFECT_DATABASE_URL``), work pool and deployments, warm worker, relay, development
SMTP server; the application database is SQLite in that home — and measures on it, side by
side:

- pickup of a lone batched ``ping`` on an idle system (its row's started_at - created_at);
- ``jobs.enqueue`` in application transactions (accepted rate), and the relay's lag on a paced
  stream of enqueued jobs (the batch flow run's ``created`` - the row's created_at);
- 10,000 no-op ``ping`` jobs through ``submit_many`` (accepted rate, and jobs/s from the submit
  until the last row is completed), with the server's CPU and database growth per job;
- the server's ceiling for the same work (``ceiling``: N no-op task runs in one flow run);
- the flow lane's server CPU and database growth per job (a burst of ``lane="flow"`` pings);
- 2,000 ``email`` jobs to the development SMTP server and one ``newsletter`` job to 2,000
  recipients, against a raw ``smtplib`` loop to the same server (``raw_smtp``).

It prints a table with the targets and one JSON line. ``--ceilings`` instead compares the
ceiling on Prefect's default task-run recorder settings with ours (``jobs.services.
SERVER_TUNING``), each on a server of its own.

- ``ceiling``: task runs per second one Prefect server records when one flow run runs N no-op
  tasks in one process, with the server's CPU and the database bytes per task run.
- ``raw_smtp``: a plain ``smtplib`` loop sending small messages over reused connections to the
  development SMTP server — the baseline for email jobs run in batches.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shutil
import smtplib
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from bench import measure
from bench.queue import free_port
from jobs import services
from jobs.settings import Settings

Result = dict[str, Any]

# The ceiling's one flow run, in a process of its own: prints its flow run id and the time it
# started, runs its N no-op tasks, prints the time it finished. "loop" calls the task N times;
# "threads" submits all N to a ThreadPoolTaskRunner and waits. The loop is faster (2 cores,
# 1000 task runs, tuned server: 67-116 task runs/s recorded against 74-82 with threads, whose
# runs also reach the server later after the flow ends): each task run costs the client CPU
# (its engine, events and log line), which threads only contend for under the GIL.
CEILING_SCRIPT = """
import sys, time
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

n, runner = int(sys.argv[1]), sys.argv[2]

@task(cache_policy=NO_CACHE, persist_result=False)
def noop(i: int) -> None:
    return None

def body() -> None:
    print(flow_run.id, time.time(), flush=True)
    if runner == "threads":
        for future in [noop.submit(i) for i in range(n)]:
            future.wait()
    else:
        for i in range(n):
            noop(i)
    print(time.time(), flush=True)

options = {"task_runner": ThreadPoolTaskRunner(max_workers=8)} if runner == "threads" else {}
flow(name="ceiling", persist_result=False, **options)(body)()
"""

RUNNERS = ("loop", "threads")

# Prefect's own values of what jobs.services.SERVER_TUNING sets, for the "before" ceiling.
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "1",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE": "1",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL": "5",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE": "20",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_READ_BATCH_SIZE": "1",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL": "5",
    "PREFECT_SERVER_SERVICES_DB_VACUUM_EVENT_RETENTION_OVERRIDES": json.dumps(
        {"prefect.flow-run.heartbeat": 7 * 86400}
    ),
}


def count_completed(api_url: str, flow_run_id: UUID) -> int:
    """Task runs of the flow run the server has recorded Completed (``POST /task_runs/count``;
    Prefect's client has no call for it)."""
    body = {
        "flow_runs": {"id": {"any_": [str(flow_run_id)]}},
        "task_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
    }
    response = httpx.post(f"{api_url}/task_runs/count", json=body, timeout=30)
    response.raise_for_status()
    return int(response.json())


def wait_completed(api_url: str, flow_run_id: UUID, n: int, timeout: float = 600) -> float:
    """The wall-clock time at which the server first counts ``n`` Completed task runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if count_completed(api_url, flow_run_id) >= n:
            return time.time()
        time.sleep(0.1)
    raise TimeoutError(f"{n} task runs not recorded Completed after {timeout} s")


def sqlite_path(env: Mapping[str, str]) -> Path | None:
    """The Prefect server's SQLite file (by ``env``), or None when it uses another database."""
    url = env.get("PREFECT_SERVER_DATABASE_CONNECTION_URL") or env.get(
        "PREFECT_API_DATABASE_CONNECTION_URL"
    )
    if url:
        return Path(url.split(":///", 1)[1]) if url.startswith("sqlite") else None
    return Path(env["PREFECT_HOME"]) / "prefect.db"


def database_bytes(env: Mapping[str, str]) -> int | None:
    """Bytes the Prefect database holds: on SQLite the pages in use as a reader sees them (main
    file and WAL, free pages left out, so a WAL not yet checkpointed counts once), on
    PostgreSQL ``pg_database_size``; None for any other database."""
    path = sqlite_path(env)
    if path is not None:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            pages, free, size = (
                int(db.execute(f"PRAGMA {name}").fetchone()[0])
                for name in ("page_count", "freelist_count", "page_size")
            )
        return (pages - free) * size
    url = env.get("PREFECT_SERVER_DATABASE_CONNECTION_URL", "")
    if not url.startswith("postgresql"):
        return None
    return asyncio.run(_pg_database_size(url.replace("postgresql+asyncpg://", "postgresql://")))


async def _pg_database_size(url: str) -> int:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT pg_database_size(current_database())"))
    finally:
        await conn.close()


def settled_bytes(env: Mapping[str, str], quiet: float = 3, timeout: float = 60) -> int | None:
    """Database bytes once they have not changed for ``quiet`` seconds: the event persister
    stores the events on its own schedule, after the task runs are recorded."""
    last, since, deadline = database_bytes(env), time.monotonic(), time.monotonic() + timeout
    while time.monotonic() - since < quiet and time.monotonic() < deadline:
        time.sleep(0.5)
        now = database_bytes(env)
        if now != last:
            last, since = now, time.monotonic()
    return last


def ceiling(
    api_url: str,
    n: int,
    *,
    env: Mapping[str, str],
    server_pid: int | None = None,
    runner: str = "loop",
    timeout: float = 600,
) -> Result:
    """Task runs per second the server records: one flow run runs ``n`` no-op task runs in one
    process (``env``: its environment, the workers'), timed from the flow's start until the
    server counts all ``n`` Completed (``jobs_s``). Also the flow's own time (``client_s``:
    the rest is the recorder's lag), with ``server_pid`` the server's CPU per task run, and
    where the database is readable (by ``env``) the bytes it grew per task run, events
    included."""
    bytes_before = database_bytes(env)
    cpu_before = measure.cpu_seconds(server_pid) if server_pid else 0.0
    child = subprocess.Popen(
        [sys.executable, "-c", CEILING_SCRIPT, str(n), runner],
        env={**env, "PREFECT_API_URL": api_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert child.stdout is not None
        first = child.stdout.readline().split()
        if len(first) != 2:
            raise RuntimeError(f"the ceiling's flow did not start (exit code {child.wait()})")
        flow_run_id, started = UUID(first[0]), float(first[1])
        recorded = wait_completed(api_url, flow_run_id, n, timeout)
        finished = float(child.stdout.readline() or "nan")
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    result: Result = {
        "runner": runner,
        "task_runs": n,
        "jobs_s": n / (recorded - started),
        "client_s": finished - started,
        "recorded_s": recorded - started,
    }
    if server_pid:
        cpu = measure.cpu_seconds(server_pid) - cpu_before
        result["server_cpu_ms_per_task_run"] = 1000 * cpu / n
    after = settled_bytes(env) if bytes_before is not None else None
    if bytes_before is not None and after is not None:
        result["db_bytes_per_task_run"] = (after - bytes_before) / n
    return result


def raw_smtp(host: str, port: int, messages: int, connections: int = 1) -> float:
    """Messages per second a plain ``smtplib`` loop sends: ``messages`` small messages one
    after another, split evenly over ``connections`` connections, each opened once."""
    msg = EmailMessage()
    msg["From"] = "bench@localhost"
    msg["To"] = "reader@example.com"
    msg["Subject"] = "Benchmark"
    msg.set_content("A small message.\n")
    shares = [messages // connections + (i < messages % connections) for i in range(connections)]
    started = time.monotonic()
    for count in shares:
        with smtplib.SMTP(host, port, timeout=15) as conn:
            for i in range(count):
                del msg["Message-ID"]
                msg["Message-ID"] = f"<{i}.{time.monotonic_ns()}@bench>"
                conn.send_message(msg)
    return messages / (time.monotonic() - started)


def wait_for_port(
    host: str, port: int, process: subprocess.Popen[bytes], timeout: float = 30
) -> None:
    """Block until ``host:port`` accepts connections; raise if ``process`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the process exited with {process.returncode}; see its log")
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing answered at {host}:{port} in {timeout} s")


@contextmanager
def server(
    database_url: str | None = None, **env: str
) -> Iterator[tuple[Settings, subprocess.Popen[bytes]]]:
    """A Prefect server in a new temporary home, on SQLite there or on ``database_url``
    (``env``: over prefect_env's)."""
    home = Path(tempfile.mkdtemp(prefix="jobs-bench-batched-"))
    settings = Settings(home=home, server_port=free_port(), prefect_database_url=database_url)
    process = services.start_server(settings, **env)
    try:
        services.wait_for_server(settings, process)
        yield settings, process
    finally:
        services.stop([process])


def server_ceiling(
    n: int, runner: str = "loop", database_url: str | None = None, **env: str
) -> Result:
    """``ceiling`` on a server of its own (``env``: over prefect_env's), after a warm-up."""
    with server(database_url, **env) as (settings, process):
        prefect = {**services.prefect_env(settings), **env}
        ceiling(
            settings.api_url, 20, env=prefect, runner=runner
        )  # imports, first flow: not counted
        return ceiling(settings.api_url, n, env=prefect, server_pid=process.pid, runner=runner)


def dev_smtp(messages: int, connections: int) -> float:
    """``raw_smtp`` against the development SMTP server, started as ``make up`` starts it."""
    settings = Settings(
        home=Path(tempfile.mkdtemp(prefix="jobs-bench-smtp-")), dev_smtp_port=free_port()
    )
    process = services.start_dev_smtp(settings)
    try:
        wait_for_port(settings.server_host, settings.dev_smtp_port, process)
        return raw_smtp(settings.server_host, settings.dev_smtp_port, messages, connections)
    finally:
        services.stop([process])


# -- the batched lane end to end ---------------------------------------------------------------

# (JSON key, what, target, how it is met: ">=" or "<=")
TARGETS: list[tuple[str, str, float, str]] = [
    ("throughput_jobs_s", "jobs/s end to end", 100, ">="),
    ("ratio_to_ceiling", "of the ceiling", 0.70, ">="),
    ("submit_per_s", "submit_many, jobs/s", 1000, ">="),
    ("enqueue_per_s", "jobs.enqueue, jobs/s", 1000, ">="),
    ("relay_lag_p50_s", "relay lag p50, s", 1.0, "<="),
    ("pickup_p50_s", "pickup p50, s", 0.5, "<="),
    ("email_ratio_to_raw", "email of raw SMTP", 0.35, ">="),
    ("newsletter_ratio_to_raw", "newsletter of raw SMTP", 0.70, ">="),
    ("server_cpu_ms_per_job", "server CPU ms/job", 15, "<="),
]


@contextmanager
def _jobs_environment(settings: Settings) -> Iterator[None]:
    """This process's JOBS_* settings are ``settings`` (``jobs.enqueue`` and the outbox read
    them), and back as they were afterwards."""
    from jobs.db.engine import get_engine
    from jobs.settings import get_settings

    saved = dict(os.environ)
    os.environ.update(services.settings_env(settings))
    get_settings.cache_clear()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()
        get_engine.cache_clear()


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _p(values: list[float], q: float) -> float:
    return measure.percentile(values, q) if values else float("nan")


DROPPED = "Subscription queue is full, dropping message"


class LaneBench:
    """One stack, as ``make up`` runs it (without the recovery service and HTTP receiver):
    server, pool, deployments, warm worker, relay and development SMTP server."""

    def __init__(self, database_url: str | None) -> None:
        home = Path(tempfile.mkdtemp(prefix="jobs-bench-lane-"))
        smtp_port = free_port()
        self.settings = Settings(
            home=home,
            server_port=free_port(),
            work_pool="bench-batched",
            prefect_database_url=database_url,
            dev_smtp_port=smtp_port,
            smtp_port=smtp_port,
        )
        self.url = self.settings.app_database_url
        self.env = services.prefect_env(self.settings)
        self.processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> LaneBench:
        from jobs.cli import setup
        from jobs.db.migrate import migrate

        self._environment = _jobs_environment(self.settings)
        self._environment.__enter__()
        try:
            migrate(self.url)
            self.server = services.start_server(self.settings)
            self.processes.append(self.server)
            services.wait_for_server(self.settings, self.server)
            setup(self.settings)
            services.deploy(self.settings)
            self.smtp = services.start_dev_smtp(self.settings)
            self.processes.append(self.smtp)
            wait_for_port(self.settings.server_host, self.settings.dev_smtp_port, self.smtp)
            self.processes.append(services.start_warm_worker(self.settings))
            self.processes.append(services.start_relay(self.settings))
            from jobs.client import Client

            self.client = Client(self.settings)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        services.stop(list(reversed(self.processes)), grace=30)
        self._environment.__exit__(None, None, None)

    # -- reading the outbox -------------------------------------------------------------------

    def counts(self, job_type: str) -> Counter[str]:
        from jobs import outbox

        return Counter(outbox.counts(job_type, "batch", self.url))

    def rows(self, ids: list[str]) -> list[Any]:
        from sqlalchemy import select

        from jobs.db.engine import session
        from jobs.db.models import QueuedJob

        found: list[Any] = []
        with session(self.url) as db:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                found += db.scalars(select(QueuedJob).where(QueuedJob.id.in_(chunk)))
        return found

    def wait_done(
        self, job_type: str, before: Counter[str], n: int, timeout: float, what: str
    ) -> Counter[str]:
        """Block until ``n`` more of the type's batched jobs are completed or failed than in
        ``before``; raise with the counts if that takes over ``timeout`` seconds, or when
        some failed."""
        deadline = time.monotonic() + timeout
        while True:
            now = self.counts(job_type)
            done = (now["completed"] - before["completed"]) + (now["failed"] - before["failed"])
            if done >= n:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: {done} of {n} finished after {timeout:.0f} s; {now}")
            time.sleep(0.2)
        if now["failed"] > before["failed"]:
            raise RuntimeError(f"{what}: {now['failed'] - before['failed']} failed; {now}")
        return now

    # -- the measurements -------------------------------------------------------------------

    def warm_up(self) -> Result:
        """A first job of each kind (imports, the worker's first fork): not counted."""
        self.client.wait(self.client.submit("ping", {}), timeout=180, poll=0.1)
        self.client.wait(self.client.submit("ping", {}, lane="flow"), timeout=180, poll=0.1)
        return {}

    def pickup(self, samples: int) -> Result:
        """Lone batched pings on an idle system, with a pause of 0.5-1 s before each: how
        long from the row's creation until its job started, and until it finished."""
        rng = random.Random(7)
        picked, total, ids = [], [], []
        for _ in range(samples):
            time.sleep(rng.uniform(0.5, 1.0))
            status = self.client.wait(self.client.submit("ping", {}), timeout=60, poll=0.02)
            if status.started_at is None or status.created_at is None:
                raise RuntimeError(f"a lone ping ended {status.state} without starting")
            picked.append((status.started_at - status.created_at).total_seconds())
            if status.finished_at is not None:
                total.append((status.finished_at - status.created_at).total_seconds())
            ids.append(str(status.id))
        # where the time goes: row created -> its batch run created (the relay) -> the run
        # Running (the worker: claim, fork, the flow's start) -> the job's row started
        rows = self.rows(ids)
        runs = self.runs(sorted({row.run_id for row in rows if row.run_id}))
        relay, worker, flow = [], [], []
        for row in rows:
            run = runs.get(row.run_id)
            if run is None or run.start_time is None or row.started_at is None:
                continue
            relay.append((run.created - _utc(row.created_at)).total_seconds())
            worker.append((run.start_time - run.created).total_seconds())
            flow.append((_utc(row.started_at) - run.start_time).total_seconds())
        return {
            "pickup_p50_s": statistics.median(picked),
            "pickup_p99_s": _p(picked, 99),
            "pickup_e2e_p50_s": statistics.median(total) if total else float("nan"),
            "pickup_samples": samples,
            "pickup_relay_p50_s": statistics.median(relay) if relay else None,
            "pickup_worker_p50_s": statistics.median(worker) if worker else None,
            "pickup_flow_p50_s": statistics.median(flow) if flow else None,
        }

    def enqueue_rate(self, transactions: int, per: int) -> Result:
        """``transactions`` application transactions of ``per`` ``jobs.enqueue`` each, one
        after another on the application database, while the relay polls it: jobs accepted per
        second. The jobs are due in 30 days, so that they are not run (this is the write path
        alone); they are cancelled afterwards, as the relay would scan them on every round."""
        import jobs
        from jobs.db.engine import session

        ids: list[str] = []
        started = time.monotonic()
        for _ in range(transactions):
            with session(self.url) as db, db.begin():
                for _ in range(per):
                    ids.append(str(jobs.enqueue(db, "ping", {}, delay=30 * 86400).id))
        elapsed = time.monotonic() - started
        self.cancel(ids)
        return {"enqueue_per_s": transactions * per / elapsed, "enqueue_jobs": len(ids)}

    def cancel(self, ids: list[str]) -> None:
        from sqlalchemy import update

        from jobs.db.engine import session
        from jobs.db.models import QueuedJob, QueueState, utcnow

        with session(self.url) as db, db.begin():
            for start in range(0, len(ids), 500):
                db.execute(
                    update(QueuedJob)
                    .where(QueuedJob.id.in_(ids[start : start + 500]))
                    .values(state=QueueState.CANCELLED, failure_reason="benchmark's own",
                            finished_at=utcnow())
                )  # fmt: skip

    def relay_lag(self, transactions: int, per: int, interval: float) -> Result:
        """A paced stream of application transactions (``per`` enqueues each, one every
        ``interval`` seconds: below the lane's throughput, so that no backlog builds): per job,
        its batch flow run's ``created`` (the server's clock) minus its row's created_at."""
        import jobs
        from jobs.db.engine import session

        before = self.counts("ping")
        ids: list[str] = []
        started = time.monotonic()
        for k in range(transactions):
            time.sleep(max(0.0, started + k * interval - time.monotonic()))
            with session(self.url) as db, db.begin():
                for _ in range(per):
                    ids.append(str(jobs.enqueue(db, "ping", {}).id))
        self.wait_done("ping", before, len(ids), 300, "enqueued jobs")
        rows = self.rows(ids)
        created = {
            run_id: run.created
            for run_id, run in self.runs(sorted({row.run_id for row in rows if row.run_id})).items()
        }
        lags = [(created[row.run_id] - _utc(row.created_at)).total_seconds() for row in rows]
        return {
            "relay_lag_p50_s": statistics.median(lags),
            "relay_lag_p99_s": _p(lags, 99),
            "relay_lag_jobs": len(lags),
            "relay_lag_batches": len(created),
            "relay_lag_offered_jobs_s": per / interval,
        }

    def runs(self, run_ids: list[str]) -> dict[str, Any]:
        """The flow runs of ``run_ids``, by id."""
        from prefect.client.orchestration import PrefectClient
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        async def read() -> dict[str, Any]:
            found: dict[str, Any] = {}
            async with PrefectClient(self.settings.api_url) as client:
                for start in range(0, len(run_ids), 200):
                    ids = [UUID(run_id) for run_id in run_ids[start : start + 200]]
                    runs = await client.read_flow_runs(
                        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)), limit=200
                    )
                    found.update({str(run.id): run for run in runs})
            return found

        return asyncio.run(read())

    def throughput(self, n: int) -> Result:
        """``n`` pings through ``submit_many``: jobs accepted per second, and jobs per second
        from the submit until the last one is completed (its row's finished_at); the server's
        CPU and the Prefect database's growth over the same jobs."""
        before = self.counts("ping")
        bytes_before = settled_bytes(self.env)
        cpu_before = measure.cpu_seconds(self.server.pid)
        started_at, started = datetime.now(UTC), time.monotonic()
        recorded_before = self.completed_task_runs()
        handles = self.client.submit_many("ping", [{}] * n)
        accepted = time.monotonic() - started
        self.wait_done("ping", before, n, 1800, f"{n} pings")
        cpu = measure.cpu_seconds(self.server.pid) - cpu_before
        rows = self.rows([str(job.id) for job in handles])
        last = max(_utc(row.finished_at) for row in rows if row.finished_at)
        deadline = time.monotonic() + 120  # the server records the task runs after the rows
        while (count := self.completed_task_runs() - recorded_before) < n:
            if time.monotonic() > deadline:  # events dropped (see dropped_events)
                break
            time.sleep(0.5)
        recorded = datetime.now(UTC) if count >= n else None
        after = settled_bytes(self.env) if bytes_before is not None else None
        return {
            "jobs": n,
            "submit_per_s": n / accepted,
            "throughput_jobs_s": n / (last - started_at).total_seconds(),
            "throughput_recorded_jobs_s": n / (recorded - started_at).total_seconds()
            if recorded
            else None,
            "recorded_task_runs": count,
            "batches": len({row.run_id for row in rows}),
            "server_cpu_ms_per_job": 1000 * cpu / n,
            "db_bytes_per_job": (after - bytes_before) / n
            if after is not None and bytes_before is not None
            else None,
        }

    def completed_task_runs(self) -> int:
        """Task runs the server has recorded Completed, all of them."""
        body = {"task_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}
        response = httpx.post(f"{self.settings.api_url}/task_runs/count", json=body, timeout=60)
        response.raise_for_status()
        return int(response.json())

    def dropped_events(self) -> int:
        """Events the server has dropped so far: Prefect's in-memory message broker drops what
        arrives for a subscriber (event persister, task-run recorder, triggers, ...) whose
        queue of 10,000 is full, with a warning in the server's log."""
        path = self.settings.home / "logs" / "server.log"
        with path.open(errors="replace") as log:
            return sum(DROPPED in line for line in log)

    def quiet(self, share: float = 0.3, timeout: float = 180) -> float:
        """Wait until the server used under ``share`` of a core over 2 s (it is done with
        the events of what came before); seconds waited."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            before = measure.cpu_seconds(self.server.pid)
            time.sleep(2)
            if measure.cpu_seconds(self.server.pid) - before < 2 * share:
                break
        return time.monotonic() - started

    def flow_lane(self, n: int) -> Result:
        """``n`` pings with ``lane="flow"`` (one flow run each), submitted at once: jobs/s
        until all are final, the server's CPU and the database's growth per job."""
        from prefect.client.orchestration import PrefectClient

        async def count() -> int:
            async with PrefectClient(self.settings.api_url) as client:
                deployment = await client.read_deployment_by_name("ping/ping")
                return await measure.count_final(client, deployment.id)

        final_before = asyncio.run(count())
        bytes_before = settled_bytes(self.env)
        cpu_before = measure.cpu_seconds(self.server.pid)
        started = time.monotonic()
        handles = self.client.submit_many("ping", [{}] * n, lane="flow")
        deadline = started + 900
        while asyncio.run(count()) - final_before < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{n} flow-lane pings not finished after 900 s")
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        cpu = measure.cpu_seconds(self.server.pid) - cpu_before
        after = settled_bytes(self.env) if bytes_before is not None else None
        states = Counter(str(self.client.status(job).state) for job in handles[:20])
        return {
            "flow_jobs": n,
            "flow_jobs_s": n / elapsed,
            "flow_sample_states": dict(states),
            "server_cpu_ms_per_job_flow": 1000 * cpu / n,
            "db_bytes_per_job_flow": (after - bytes_before) / n
            if after is not None and bytes_before is not None
            else None,
        }

    def email(self, n: int) -> Result:
        """``n`` batched email jobs (the ``welcome`` template, one recipient each) to the
        development SMTP server: messages per second from the submit to the last one sent."""
        before = self.counts("email")
        params = [
            {
                "to": [f"reader-{i}@example.com"],
                "subject": "Welcome aboard",
                "template": "welcome",
                "context": {"name": "Ada", "app_name": "Jobs"},
            }
            for i in range(n)
        ]
        started_at = datetime.now(UTC)
        handles = self.client.submit_many("email", params)
        self.wait_done("email", before, n, 900, f"{n} emails")
        rows = self.rows([str(job.id) for job in handles])
        last = max(_utc(row.finished_at) for row in rows if row.finished_at)
        return {"emails": n, "email_per_s": n / (last - started_at).total_seconds()}

    def newsletter(self, recipients: int) -> Result:
        """One ``newsletter`` job (flow lane) to ``recipients``: recipients per second from the
        job's start to its end."""
        params = {
            "subject": "Spring news",
            "text": "A small message.\n",
            "recipients": [{"email": f"fan-{i}@example.com"} for i in range(recipients)],
        }
        status = self.client.wait(self.client.submit("newsletter", params), timeout=900, poll=0.2)
        if str(status.state) != "completed" or not status.started_at or not status.finished_at:
            raise RuntimeError(f"the newsletter ended {status.state}: {status.failure_reason}")
        seconds = (status.finished_at - status.started_at).total_seconds()
        return {"newsletter_recipients": recipients, "newsletter_per_s": recipients / seconds}

    def raw(self, messages: int, connections: int) -> Result:
        """``raw_smtp`` to the same server; and, for comparison, a connection per message (as
        each email job opens one), on up to 500 messages."""
        host, port = self.settings.server_host, self.settings.dev_smtp_port
        alone = min(500, messages)
        return {
            "raw_smtp_per_s": raw_smtp(host, port, messages, connections),
            "raw_smtp_connection_each_per_s": raw_smtp(host, port, alone, alone),
        }

    def ceiling(self, n: int) -> Result:
        """``ceiling`` on this server, after a small warm-up; the worker and relay idle."""
        ceiling(self.settings.api_url, 20, env=self.env)
        r = ceiling(self.settings.api_url, n, env=self.env, server_pid=self.server.pid, timeout=240)
        return {
            "ceiling_jobs_s": r["jobs_s"],
            "ceiling_task_runs": n,
            "ceiling_flow_s": r["client_s"],
            "ceiling_server_cpu_ms_per_task_run": r.get("server_cpu_ms_per_task_run"),
            "ceiling_db_bytes_per_task_run": r.get("db_bytes_per_task_run"),
        }


def lane(args: argparse.Namespace) -> Result:
    """The batched lane's measurements, one after another on one stack; a step that fails is
    reported (``errors``) and the others still run."""
    database_url = args.database_url or os.environ.get("JOBS_PREFECT_DATABASE_URL") or None
    results: Result = {"lane": "batched", "errors": [], "events_dropped": {}, "waited_s": {}}
    load_before = os.getloadavg()
    started = time.monotonic()

    def step(name: str, measure_it: Callable[[], Result]) -> None:
        print(f"  {name} ...", file=sys.stderr, flush=True)
        results["waited_s"][name] = round(bench.quiet(), 1)
        began, dropped = time.monotonic(), bench.dropped_events()
        try:
            results.update(measure_it())
        except Exception as exc:
            traceback.print_exc()
            results["errors"].append(f"{name}: {type(exc).__name__}: {exc}")
        if dropped := bench.dropped_events() - dropped:
            results["events_dropped"][name] = dropped
        print(f"  {name}: {time.monotonic() - began:.0f} s", file=sys.stderr, flush=True)

    print("Batched lane: starting the stack ...", file=sys.stderr, flush=True)
    with LaneBench(database_url) as bench:
        results["home"] = str(bench.settings.home)
        step("warm-up", bench.warm_up)
        step("pickup", lambda: bench.pickup(args.pickups))
        step("enqueue", lambda: bench.enqueue_rate(args.transactions, args.per_transaction))
        step("relay lag", lambda: bench.relay_lag(args.lag_transactions, 10, args.lag_interval))
        step("throughput", lambda: bench.throughput(args.jobs))
        step("ceiling", lambda: bench.ceiling(args.ceiling_tasks or args.jobs))
        step("flow lane", lambda: bench.flow_lane(args.flow_jobs))
        step("email", lambda: bench.email(args.emails))
        step("newsletter", lambda: bench.newsletter(args.recipients))
        step("raw SMTP", lambda: bench.raw(args.messages, args.connections))
    if "throughput_jobs_s" in results and "ceiling_jobs_s" in results:
        results["ratio_to_ceiling"] = results["throughput_jobs_s"] / results["ceiling_jobs_s"]
    if "raw_smtp_per_s" in results:
        for name in ("email", "newsletter"):
            if f"{name}_per_s" in results:
                results[f"{name}_ratio_to_raw"] = (
                    results[f"{name}_per_s"] / results["raw_smtp_per_s"]
                )
    if args.keep_home or results["errors"]:
        print(f"Kept {results['home']} (logs/, databases)", file=sys.stderr)
    else:
        shutil.rmtree(results["home"], ignore_errors=True)
    results["backend"] = "postgres" if database_url else "sqlite"
    results["seconds"] = time.monotonic() - started
    results["load_avg_before"] = [round(x, 2) for x in load_before]
    results["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    return results


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def lane_report(r: Result, args: argparse.Namespace) -> None:
    ceiling_n = args.ceiling_tasks or args.jobs
    print(
        f"\nBatched lane ({r['backend']} Prefect database, SQLite application database; "
        f"{os.cpu_count()} cores, load {r['load_avg_before'][0]} before, "
        f"{r['load_avg_after'][0]} after; {r['seconds']:.0f} s)"
    )
    rows: list[tuple[str, str, str, str]] = [
        ("batched, submit_many -> completed", _fmt(r.get("throughput_jobs_s"), 1), "jobs/s",
         f"{args.jobs:,} pings, {_fmt(r.get('batches'))} batches"),
        ("  recorded Completed by the server", _fmt(r.get("throughput_recorded_jobs_s"), 1),
         "jobs/s", "the same jobs, until their task runs are all recorded"),
        ("ceiling (one flow run, N no-op tasks)", _fmt(r.get("ceiling_jobs_s"), 1), "jobs/s",
         f"N = {ceiling_n:,}, same server"),
        ("  ratio to ceiling", _fmt(r.get("ratio_to_ceiling")), "", ""),
        ("submit_many accepted", _fmt(r.get("submit_per_s"), 0), "jobs/s",
         f"{args.jobs:,} rows, one call"),
        ("jobs.enqueue accepted", _fmt(r.get("enqueue_per_s"), 0), "jobs/s",
         f"{args.transactions:,} transactions x {args.per_transaction}, due in 30 days"),
        ("relay lag p50 / p99", f"{_fmt(r.get('relay_lag_p50_s'))} / "
         f"{_fmt(r.get('relay_lag_p99_s'))}", "s",
         f"run created - row created, {_fmt(r.get('relay_lag_jobs'))} jobs enqueued at "
         f"{_fmt(r.get('relay_lag_offered_jobs_s'), 0)}/s"),
        ("pickup p50 / p99", f"{_fmt(r.get('pickup_p50_s'))} / {_fmt(r.get('pickup_p99_s'))}",
         "s", f"lone ping, row started - created, {args.pickups} samples; "
         f"finished p50 {_fmt(r.get('pickup_e2e_p50_s'))} s"),
        ("  p50: relay / worker / in the flow", f"{_fmt(r.get('pickup_relay_p50_s'))} / "
         f"{_fmt(r.get('pickup_worker_p50_s'))} / {_fmt(r.get('pickup_flow_p50_s'))}", "s",
         "row -> run created -> run Running -> row started"),
        ("email (batched)", _fmt(r.get("email_per_s"), 1), "msg/s",
         f"{args.emails:,} jobs; {_fmt(r.get('email_ratio_to_raw'))} of raw"),
        ("newsletter (flow lane)", _fmt(r.get("newsletter_per_s"), 1), "rcpt/s",
         f"{args.recipients:,} recipients; {_fmt(r.get('newsletter_ratio_to_raw'))} of raw"),
        ("raw smtplib", _fmt(r.get("raw_smtp_per_s"), 1), "msg/s",
         f"{args.messages:,} messages over {args.connections} connections"),
        ("  a connection per message", _fmt(r.get("raw_smtp_connection_each_per_s"), 1),
         "msg/s", f"{min(500, args.messages)} messages"),
        ("server CPU per job, batched / flow",
         f"{_fmt(r.get('server_cpu_ms_per_job'))} / {_fmt(r.get('server_cpu_ms_per_job_flow'))}",
         "ms", f"flow: {args.flow_jobs} pings, {_fmt(r.get('flow_jobs_s'), 1)} jobs/s"),
        ("DB bytes per job, batched / flow",
         f"{_fmt(r.get('db_bytes_per_job'), 0)} / {_fmt(r.get('db_bytes_per_job_flow'), 0)}",
         "B", f"ceiling: {_fmt(r.get('ceiling_db_bytes_per_task_run'), 0)} B/task run"),
    ]  # fmt: skip
    for name, shown_value, unit, note in rows:
        print(f"  {name:38}{shown_value:>17} {unit:7} {note}")
    print("  targets:")
    for key, what, target, how in TARGETS:
        value = r.get(key)
        if value is None:
            verdict = "not measured"
        else:
            met = value >= target if how == ">=" else value <= target
            verdict = "met" if met else "NOT met"
        shown = f"{target:.0%}" if "ratio" in key else f"{target:,g}"
        print(f"    {what:26} {how} {shown:>7}: {_fmt(value):>10}  {verdict}")
    if r["events_dropped"]:
        print(f"  events the server dropped (its log), by step: {r['events_dropped']}")
    for error in r["errors"]:
        print(f"  error: {error}")
    keys = [
        "lane", "throughput_jobs_s", "ceiling_jobs_s", "ceiling_task_runs", "ratio_to_ceiling",
        "submit_per_s", "enqueue_per_s", "relay_lag_p50_s", "relay_lag_p99_s", "pickup_p50_s",
        "pickup_p99_s", "pickup_relay_p50_s", "pickup_worker_p50_s", "pickup_flow_p50_s",
        "email_per_s", "newsletter_per_s", "raw_smtp_per_s", "raw_smtp_connection_each_per_s",
        "email_ratio_to_raw", "newsletter_ratio_to_raw", "server_cpu_ms_per_job",
        "server_cpu_ms_per_job_flow", "db_bytes_per_job", "db_bytes_per_job_flow",
        "ceiling_server_cpu_ms_per_task_run", "ceiling_db_bytes_per_task_run", "jobs",
        "batches", "flow_jobs", "flow_jobs_s", "emails", "newsletter_recipients", "backend",
        "throughput_recorded_jobs_s", "recorded_task_runs", "relay_lag_batches",
        "events_dropped", "waited_s",
        "seconds",
        "load_avg_before", "load_avg_after", "errors",
    ]  # fmt: skip
    line = {key: r.get(key) for key in keys}
    line["relay_lag"] = "batch flow run created - row created_at, paced enqueue stream"
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in line.items()}))


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.batched",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--database-url", help="Prefect server database (default: SQLite)")
    parser.add_argument(
        "--ceilings", action="store_true",
        help="instead: the ceiling on Prefect's defaults and tuned, each on its own server",
    )  # fmt: skip
    lane_options = parser.add_argument_group("the batched lane")
    lane_options.add_argument("--jobs", type=int, default=10_000, help="pings via submit_many")
    lane_options.add_argument(
        "--ceiling-tasks",
        type=int,
        default=2000,
        help="task runs of the ceiling (0: --jobs). Fewer than --jobs: on 2 cores 10,000 take "
        "minutes, and the server drops events of a backlog over 10,000 (3 per task run)",
    )
    lane_options.add_argument("--pickups", type=int, default=30, help="lone pings")
    lane_options.add_argument("--transactions", type=int, default=1000, help="of jobs.enqueue")
    lane_options.add_argument("--per-transaction", type=int, default=10)
    lane_options.add_argument(
        "--lag-transactions", type=int, default=60, help="paced transactions of 10 enqueues"
    )
    lane_options.add_argument("--lag-interval", type=float, default=0.2, help="seconds apart")
    lane_options.add_argument("--flow-jobs", type=int, default=200, help="flow-lane pings")
    lane_options.add_argument("--emails", type=int, default=2000, help="batched email jobs")
    lane_options.add_argument("--recipients", type=int, default=2000, help="of the newsletter")
    lane_options.add_argument(
        "--keep-home", action="store_true", help="keep the stack's folder (kept on errors)"
    )
    ceilings = parser.add_argument_group("--ceilings")
    ceilings.add_argument("--tasks", type=int, default=1000, help="task runs of each ceiling")
    ceilings.add_argument("--runner", choices=RUNNERS, default="loop")
    ceilings.add_argument("--rounds", type=int, default=1, help="ceilings of each kind (median)")
    parser.add_argument("--messages", type=int, default=2000, help="messages of raw SMTP")
    parser.add_argument("--connections", type=int, default=4, help="SMTP connections, reused")
    return parser.parse_args(argv)


def _median(results: list[Result]) -> Result:
    return {
        key: statistics.median(r[key] for r in results)
        if isinstance(results[0][key], float)
        else results[0][key]
        for key in results[0]
    }


def run(args: argparse.Namespace) -> Result:
    default: list[Result] = []
    tuned: list[Result] = []
    for _ in range(args.rounds):  # alternating, so both see the same machine
        default.append(
            server_ceiling(args.tasks, args.runner, args.database_url, **PREFECT_DEFAULTS)
        )
        tuned.append(server_ceiling(args.tasks, args.runner, args.database_url))
    return {
        "default": _median(default),
        "tuned": _median(tuned),
        "raw_smtp_per_s": dev_smtp(args.messages, args.connections),
    }


def report(results: Result, args: argparse.Namespace) -> None:
    print(f"\nServer ceiling for task runs ({args.tasks} no-op task runs in one flow run, ", end="")
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"{args.runner}, {backend}, median of {args.rounds})")
    columns = [("recorded/s", 11), ("flow s", 8), ("recorded s", 11), ("cpu ms/run", 11)]
    print(
        f"{'':22}" + "".join(f"{title:>{width}}" for title, width in columns) + f"{'db B/run':>10}"
    )
    for name in ("default", "tuned"):
        r = results[name]
        print(
            f"{'Prefect defaults' if name == 'default' else 'tuned (prefect_env)':22}"
            f"{r['jobs_s']:>11.1f}{r['client_s']:>8.2f}{r['recorded_s']:>11.2f}"
            f"{r['server_cpu_ms_per_task_run']:>11.2f}{r['db_bytes_per_task_run']:>10.0f}"
        )
    print(
        f"raw SMTP: {results['raw_smtp_per_s']:.0f} messages/s "
        f"({args.messages} messages over {args.connections} connections)"
    )
    default, tuned = results["default"], results["tuned"]
    line = {
        "ceiling_jobs_s": round(tuned["jobs_s"], 1),
        "ceiling_default_jobs_s": round(default["jobs_s"], 1),
        "server_cpu_ms_per_task_run": round(tuned["server_cpu_ms_per_task_run"], 2),
        "server_cpu_ms_per_task_run_default": round(default["server_cpu_ms_per_task_run"], 2),
        "db_bytes_per_task_run": round(tuned["db_bytes_per_task_run"]),
        "raw_smtp_per_s": round(results["raw_smtp_per_s"], 1),
        "flow_jobs_s": round(args.tasks / tuned["client_s"], 1),
        "task_runs": args.tasks,
        "runner": args.runner,
        "backend": "postgres" if args.database_url else "sqlite",
    }
    print(json.dumps(line))


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    if args.ceilings:
        report(run(args), args)
    else:
        lane_report(lane(args), args)


if __name__ == "__main__":
    main()
