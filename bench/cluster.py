"""Scaling of the cluster: throughput against API processes and worker hosts (``make
bench-cluster``, ``python -m bench.cluster``).

For each of API processes 1, 2, 4 x worker hosts 1, 2, 4 it starts the cluster
(:mod:`jobs.cluster`, PostgreSQL + Redis), submits a burst of no-op ``ping`` jobs to each lane
and times them to the last completion: the flow-run lane (one flow run per job; ``--flow``
jobs) and the batched lane (task runs in batch flow runs; ``--batch`` jobs). Server CPU is
that of the API processes and the services process over the burst, per job. Prints a table,
a projection, and one JSON line per configuration. All of it shares this machine's cores: the
figures say where the server saturates, not what separate machines would give.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

from prefect.context import refresh_global_settings_context

import jobs
from jobs import services
from jobs.cluster import Cluster
from jobs.settings import Settings, get_settings

TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and its live children (and the children they waited for)."""
    total = 0.0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if proc.name == str(pid) or fields[1] == str(pid):
            total += sum(int(v) for v in fields[11:15]) / TICK
    return total


def server_cpu(cluster: Cluster) -> float:
    return tree_cpu(cluster.process("Prefect API").pid) + tree_cpu(
        cluster.process("Prefect services").pid
    )


def completed(client: jobs.Client) -> int:
    """Completed pings; read again when an overloaded API answers 5xx."""
    for _ in range(30):
        try:
            return client.stats("ping").completed
        except jobs.JobsError:
            time.sleep(2)
    return client.stats("ping").completed


def burst(cluster: Cluster, lane: str, count: int, timeout: float = 900) -> dict[str, float]:
    """Submit ``count`` no-op pings to ``lane`` at once; time them to the last completion."""
    client = jobs.Client(cluster.settings)
    before = completed(client)
    cpu = server_cpu(cluster)
    started = time.monotonic()
    for start in range(0, count, 500):
        size = min(500, count - start)
        client.submit_many("ping", [{"note": f"bench {n}"} for n in range(size)], lane=lane)
    submitted = time.monotonic() - started
    deadline = started + timeout
    while completed(client) < before + count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{lane}: {count} jobs not completed in {timeout} s")
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    return {
        "jobs_s": round(count / elapsed, 2),
        "submit_s": round(submitted, 2),
        "server_cpu_ms_per_job": round(1000 * (server_cpu(cluster) - cpu) / count, 1),
    }


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__)
    parser.add_argument("--api", default="1,2,4", help="API process counts (default 1,2,4)")
    parser.add_argument("--hosts", default="1,2,4", help="worker host counts (default 1,2,4)")
    parser.add_argument("--flow", type=int, default=80, help="flow-run lane jobs per burst")
    parser.add_argument("--batch", type=int, default=1500, help="batched lane jobs per burst")
    args = parser.parse_args(argv)
    base = get_settings()
    home = base.home.resolve() / "bench-cluster"
    shutil.rmtree(home, ignore_errors=True)
    results: list[dict[str, Any]] = []
    for api in map(int, args.api.split(",")):
        for hosts in map(int, args.hosts.split(",")):
            settings = Settings.model_validate(
                {
                    **base.model_dump(),
                    "home": home,
                    "cluster_name": "bench",
                    "cluster_network": "10.234.0.0/24",
                    "server_port": 4320,
                    "postgres_port": 55452,
                    "redis_port": 56399,
                    "cluster_api_processes": api,
                    "cluster_worker_hosts": hosts,
                }
            )
            cluster = Cluster(settings, lambda line: None)
            signal.signal(signal.SIGTERM, _interrupt)  # stop the cluster on SIGTERM too
            cluster.start()
            try:
                os.environ.update(services.prefect_env(cluster.settings))
                get_settings.cache_clear()
                refresh_global_settings_context()
                burst(cluster, "flow", 8)  # warm: deployments read, run processes forked
                flow = burst(cluster, "flow", args.flow)
                batch = burst(cluster, "batch", args.batch)
            finally:
                cluster.stop()
            row = {"api_processes": api, "worker_hosts": hosts, "flow": flow, "batch": batch}
            results.append(row)
            print(
                f"{api} API processes, {hosts} worker hosts: flow lane {flow['jobs_s']} jobs/s, "
                f"batched {batch['jobs_s']} jobs/s",
                flush=True,
            )
    print(table(results))
    print(projection(results))
    for row in results:
        print(json.dumps({"bench": "cluster", **row}))


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| API processes | worker hosts | flow lane jobs/s | server CPU ms/job | "
        "batched jobs/s | server CPU ms/job |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        flow, batch = r["flow"], r["batch"]
        lines.append(
            f"| {r['api_processes']} | {r['worker_hosts']} | {flow['jobs_s']} | "
            f"{flow['server_cpu_ms_per_job']} | {batch['jobs_s']} | "
            f"{batch['server_cpu_ms_per_job']} |"
        )
    return "\n".join(lines)


def projection(results: list[dict[str, Any]], cores: int = 16) -> str:
    """A 16-core server's ceiling from the lowest server CPU per job measured (a projection:
    CPU-bound, linear in cores, one core in four kept for PostgreSQL and Redis)."""
    flow = min(r["flow"]["server_cpu_ms_per_job"] for r in results)
    batch = min(r["batch"]["server_cpu_ms_per_job"] for r in results)
    usable = cores * 0.75 * 1000
    return (
        f"Projection (not measured): a {cores}-core server, 3/4 of it for the API and services "
        f"processes, at the lowest server CPU per job seen here ({flow} ms flow lane, {batch} ms "
        f"batched) serves ~{usable / flow:.0f} flow-lane jobs/s and ~{usable / batch:.0f} "
        "batched jobs/s, if PostgreSQL keeps up and worker hosts are added until the server is "
        "the bottleneck."
    )


if __name__ == "__main__":
    main()
