"""The fault suite: ``make faults`` (``python -m faults``).

Brings up the cluster (:mod:`jobs.cluster`: PostgreSQL, Redis, N Prefect API processes, a
services process, recovery service, relay, a warm worker on each of two worker hosts) under a
name, network and ports of its own, then runs each scenario: a burst of email and webhook jobs
(:mod:`faults.workload`) with a fault injected while it is under way. For each it counts

- ``submitted``: keys the clients submitted (with retries, same key),
- ``completed`` / ``failed``: jobs that ended so (``in_doubt``: failed because an attempt died
  mid-send: its effect happened once or not at all, never again),
- ``delivered``: keys whose side effect arrived (a message in the Maildir, a request kept by
  the HTTP receiver), ``duplicates``: keys delivered more than once,
- ``completed_undelivered``: completed jobs whose side effect did not arrive,
- ``lost``: keys submitted whose job cannot be found (or whose submit was given up),
- ``stuck``: jobs not final ``STUCK_AFTER`` seconds after the fault ended,
- ``recover_s``: seconds from the end of the fault until every job of the burst was final.

and prints a table and one JSON line per scenario (also appended to
``<home>/faults/results.jsonl``). ``--only NAME,...`` runs some; ``--jobs N`` sets the burst.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prefect.context import refresh_global_settings_context

import jobs
from faults import workload
from jobs import services
from jobs.cluster import Cluster
from jobs.settings import Settings, get_settings

log = logging.getLogger("faults")
STUCK_AFTER = 300.0
BURST_RATE = 40.0  # jobs/s offered
FAULT_AT = 5.0  # seconds into the burst

# The cluster of the suite: beside a `make cluster`, never on top of it; detection a little
# faster than the defaults so a scenario takes minutes, not tens of minutes.
SUITE: dict[str, Any] = {
    "cluster_name": "faults",
    "cluster_network": "10.232.0.0/24",
    "server_port": 4310,
    "postgres_port": 55442,
    "redis_port": 56389,
    "dev_smtp_port": 8125,
    "dev_webhook_port": 8126,
    "smtp_port": 8125,
    "worker_heartbeat_seconds": 2.0,
    "zombie_after_seconds": 12.0,
    "recovery_interval_seconds": 2.0,
    "recovery_backoff_seconds": 1.0,
    "recovery_max_reruns": 10,
    "worker_drain_seconds": 30.0,
}


@dataclass
class Fault:
    """A scenario: its name, the burst size, and the fault (returns when the fault has ended)."""

    name: str
    jobs: int
    inject: Callable[[Cluster, Callable[[], bool]], str]
    help: str


def _wait_restarted(cluster: Cluster, name: str, old_pid: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while cluster.process(name).pid == old_pid or cluster.process(name).poll() is not None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} was not started again in {timeout} s")
        time.sleep(0.2)


def _wait_api(cluster: Cluster) -> None:
    services.wait_for_server(cluster.settings, cluster.process("Prefect API"))


def _restart(cluster: Cluster, name: str, signum: int, grace: float = 30) -> str:
    """Signal a part to stop; SIGKILL its group after ``grace``; wait for its successor."""
    process = cluster.process(name)
    os.kill(process.pid, signum)
    try:
        process.wait(timeout=grace)
    except Exception:
        os.killpg(process.pid, signal.SIGKILL)
    _wait_restarted(cluster, name, process.pid)
    return f"{name}: {signal.Signals(signum).name}, started again"


def worker_kills(cluster: Cluster, done: Callable[[], bool]) -> str:
    """SIGKILL a worker (the hosts in turn) every ~10 s while jobs remain, at most 15 times."""
    kills = 0
    hosts = cluster.network.hosts
    while not done() and kills < 15:
        host = hosts[kills % len(hosts)]
        name = cluster.worker_name(host)
        pid = cluster.signal(name, signal.SIGKILL)
        next_kill = time.monotonic() + 10
        kills += 1
        _wait_restarted(cluster, name, pid)
        while time.monotonic() < next_kill and not done():
            time.sleep(0.5)
    return f"{kills} worker SIGKILLs, ~10 s apart"


def api_process_kill(cluster: Cluster, done: Callable[[], bool]) -> str:
    pids = cluster.api_processes()
    os.kill(pids[0], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while len(cluster.api_processes()) < len(pids) or pids[0] in cluster.api_processes():
        if time.monotonic() > deadline:
            return f"API process {pids[0]} SIGKILLed; NOT replaced within 60 s"
        time.sleep(0.2)
    return f"1 of {len(pids)} API processes SIGKILLed, replaced by uvicorn"


def api_restart(cluster: Cluster, done: Callable[[], bool]) -> str:
    said = _restart(cluster, "Prefect API", signal.SIGTERM)
    _wait_api(cluster)
    return said


def redis_restart(cluster: Cluster, done: Callable[[], bool]) -> str:
    return _restart(cluster, "Redis", signal.SIGTERM)


def postgres_restart(cluster: Cluster, done: Callable[[], bool]) -> str:
    said = _restart(cluster, "PostgreSQL", signal.SIGINT)  # fast shutdown
    return said.replace("SIGINT", "fast shutdown (SIGINT)")


def network_cut(cluster: Cluster, done: Callable[[], bool]) -> str:
    host = cluster.network.hosts[0]
    cluster.network.cut(host)
    time.sleep(30)
    cluster.network.restore(host)
    return f"{host.name} cut off for 30 s"


def sigterm_drain(cluster: Cluster, done: Callable[[], bool]) -> str:
    name = cluster.worker_name(cluster.network.hosts[0])
    started = time.monotonic()
    said = _restart(cluster, name, signal.SIGTERM, grace=120)
    return f"{said} (drained in {time.monotonic() - started:.0f} s)"


FAULTS = [
    Fault("worker-kills", 1000, worker_kills, "a worker SIGKILLed every ~10 s, restarted"),
    Fault("api-process-kill", 400, api_process_kill, "one of the API processes SIGKILLed"),
    Fault("api-restart", 400, api_restart, "the whole API restarted"),
    Fault("redis-restart", 400, redis_restart, "Redis restarted"),
    Fault("postgres-restart", 400, postgres_restart, "PostgreSQL restarted (fast shutdown)"),
    Fault("network-cut", 400, network_cut, "a worker host cut off for 30 s"),
    Fault("sigterm-drain", 400, sigterm_drain, "a worker SIGTERMed under load (drain)"),
]


def run(cluster: Cluster, fault: Fault, count: int | None = None) -> dict[str, Any]:
    """One scenario: burst, fault mid-burst, wait for every job, count."""
    settings = cluster.settings
    burst = workload.specs(fault.name, count or fault.jobs)
    statuses: dict[str, jobs.JobStatus] = {}
    submitted: list[workload.Submitted] = []
    started = threading.Event()
    submitter = threading.Thread(
        target=lambda: submitted.append(
            workload.submit(settings, burst, BURST_RATE, started=started)
        )
    )
    begin = time.monotonic()
    submitter.start()
    started.wait()
    time.sleep(FAULT_AT)
    everything_final = threading.Event()
    stop_polling = threading.Event()

    def poller() -> None:  # reads the jobs' states apart, so a fault's timing never waits on it
        client = jobs.Client(settings)
        while not stop_polling.is_set():
            if not submitter.is_alive() and submitted and _poll(client, submitted[0], statuses):
                everything_final.set()
                return
            stop_polling.wait(2)

    polling = threading.Thread(target=poller, daemon=True)
    polling.start()
    fault_start = time.monotonic()
    said = fault.inject(cluster, everything_final.is_set)
    fault_end, fault_ended = time.monotonic(), datetime.now(UTC)
    submitter.join()
    result = submitted[0]
    everything_final.wait(timeout=max(0.0, fault_end + STUCK_AFTER - time.monotonic()))
    stop_polling.set()
    polling.join()
    finished = time.monotonic()
    time.sleep(3)  # the last files land
    arrived = workload.deliveries(settings, f"{fault.name}-")
    final = {key: s for key, s in statuses.items() if _final(s)}
    completed = [key for key, s in final.items() if s.state == jobs.JobState.COMPLETED]
    failed = {key: s for key, s in final.items() if s.state == jobs.JobState.FAILED}
    lost = [key for key in result.ids if key not in statuses] + result.given_up
    return {
        "scenario": fault.name,
        "fault": said,
        "submitted": len(burst),
        "completed": len(completed),
        "failed": len(failed),
        "in_doubt": sum(1 for s in failed.values() if "stopped mid-" in (s.failure_reason or "")),
        "lost": len(lost),
        "duplicates": sum(1 for n in arrived.values() if n > 1),
        "stuck": len(result.ids) - len(final) - len([k for k in result.ids if k not in statuses]),
        "delivered": len(arrived),
        "completed_undelivered": sum(1 for key in completed if key not in arrived),
        "recover_s": _recovered_in(final.values(), fault_ended),
        "fault_s": round(fault_end - fault_start, 1),
        "total_s": round(finished - begin, 1),
        "submit_retries": result.retries,
        "reruns": sum(max(0, s.attempts - 1) for s in final.values()),
        "failure_reasons": dict(
            sorted(
                _count(s.failure_reason or "?" for s in failed.values()).items(),
                key=lambda item: -item[1],
            )[:3]
        ),
    }


def _recovered_in(final: Any, fault_ended: datetime) -> float | None:
    """Seconds from the end of the fault until the last job of the burst finished."""
    ends = [s.finished_at for s in final if s.finished_at is not None]
    return round(max(0.0, (max(ends) - fault_ended).total_seconds()), 1) if ends else None


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        out[value[:80]] = out.get(value[:80], 0) + 1
    return out


def _poll(
    client: jobs.Client, submitted: workload.Submitted, statuses: dict[str, jobs.JobStatus]
) -> bool:
    """Read the jobs not yet final; whether all are."""
    for key, job_id in list(submitted.ids.items()):
        if key in statuses and _final(statuses[key]):
            continue
        try:
            statuses[key] = client.status(job_id)
        except jobs.JobNotFound:
            statuses.pop(key, None)
        except Exception:  # a part is down mid-fault: read again next time
            return False
    return all(key in statuses and _final(statuses[key]) for key in submitted.ids)


def _final(status: jobs.JobStatus) -> bool:
    """Final for good: a Crashed job is re-run by the recovery service (or given up on, as
    Failed, when it has crashed too often)."""
    return status.state.is_final and status.prefect_state != "Crashed"


COLUMNS = [
    "scenario", "submitted", "completed", "failed", "in_doubt", "delivered", "duplicates",
    "lost", "stuck", "recover_s",
]  # fmt: skip


def table(results: list[dict[str, Any]]) -> str:
    rows = [COLUMNS, *[[str(r[c]) for c in COLUMNS] for r in results]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m faults", description=__doc__)
    parser.add_argument("--only", help="comma-separated scenarios: " + ", ".join(
        f.name for f in FAULTS))  # fmt: skip
    parser.add_argument("--jobs", type=int, help="jobs per burst (default: each scenario's)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    chosen = [f for f in FAULTS if not args.only or f.name in args.only.split(",")]
    base = get_settings()
    home = base.home.resolve() / "faults"
    shutil.rmtree(home, ignore_errors=True)  # every run starts from empty databases
    settings = Settings.model_validate({**base.model_dump(), **SUITE, "home": home})
    cluster = Cluster(settings, lambda line: log.info("%s", line), settle_seconds=5)
    results = []
    signal.signal(signal.SIGTERM, _interrupt)  # stop the cluster on SIGTERM too
    try:
        cluster.start()
        # this process is a client of the cluster: Prefect's and our settings point at it
        os.environ.update(services.prefect_env(cluster.settings))
        get_settings.cache_clear()
        refresh_global_settings_context()
        for fault in chosen:
            log.info("scenario %s: %s", fault.name, fault.help)
            result = run(cluster, fault, args.jobs)
            results.append(result)
            print(json.dumps(result), flush=True)
            with (home / "results.jsonl").open("a") as out:
                out.write(json.dumps(result) + "\n")
            _wait_api(cluster)
    finally:
        cluster.stop()
    print(table(results), flush=True)
    for result in results:
        print(json.dumps(result), flush=True)
