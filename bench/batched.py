"""Measurements for running many small jobs as task runs: the server's ceiling, and raw SMTP.

- ``ceiling``: task runs per second one Prefect server records when one flow run runs N no-op
  tasks in one process, with the server's CPU and the database bytes per task run.
- ``raw_smtp``: a plain ``smtplib`` loop sending small messages over reused connections to the
  development SMTP server — the baseline for email jobs run in batches.

Run: ``.venv/bin/python -m bench.batched [--tasks 1000] [--messages 2000]``. It starts a
Prefect server in a temporary home with Prefect's default task-run recorder and event
persister settings, measures the ceiling, starts another with ours (``jobs.services.
SERVER_TUNING``), measures it again, then measures raw SMTP against the development SMTP
server; prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import smtplib
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
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


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.batched", description=__doc__)
    parser.add_argument("--database-url", help="Prefect server database (default: SQLite)")
    parser.add_argument("--tasks", type=int, default=1000, help="task runs of each ceiling")
    parser.add_argument("--runner", choices=RUNNERS, default="loop")
    parser.add_argument("--rounds", type=int, default=1, help="ceilings of each kind (median)")
    parser.add_argument("--messages", type=int, default=2000, help="messages of raw SMTP")
    parser.add_argument("--connections", type=int, default=4, help="SMTP connections, reused")
    return parser.parse_args()


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


def main() -> None:
    args = arguments()
    report(run(args), args)


if __name__ == "__main__":
    main()
