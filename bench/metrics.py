"""What one metrics scrape costs: Prefect server requests, server CPU and wall time, with jobs
waiting in both lanes (no worker runs them): flow-lane jobs as Scheduled flow runs, batched
jobs as outbox rows.

Brings up its own Prefect server (SQLite) and application database in a temporary home,
deploys ``ping``, then for each level (flow-lane jobs waiting, batched jobs waiting) adds jobs
up to it and scrapes ``--scrapes`` times, each a fresh collection (the 1 s cache expired
first), and once more within the cache. Server CPU is read from /proc/<server pid>/stat around
each scrape, less the server's idle rate over the same wall time.

Run: ``.venv/bin/python -m bench.metrics [--levels 0:0 200:1000 1000:10000] [--scrapes 10]``;
prints a line per level, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bench import measure
from bench.queue import free_port
from jobs import metrics, services
from jobs.cli import setup
from jobs.client import Client
from jobs.db.migrate import migrate
from jobs.settings import Settings

Result = dict[str, Any]


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.metrics", description=__doc__)
    parser.add_argument(
        "--levels",
        nargs="+",
        default=["0:0", "200:1000", "1000:10000"],
        help="flow-lane:batched jobs waiting at each level (cumulative)",
    )
    parser.add_argument("--scrapes", type=int, default=10)
    parser.add_argument("--idle-seconds", type=float, default=10)
    return parser.parse_args(argv)


def requests_of(text: str) -> float:
    for family in text_string_to_metric_families(text):
        if family.name == "jobs_metrics_server_requests":
            return float(family.samples[0].value)
    raise LookupError("no jobs_metrics_server_requests in the scrape")


def scrape_cost(settings: Settings, server_pid: int, idle_rate: float, scrapes: int) -> Result:
    registry = metrics.registry(settings)
    walls, cpus, requests = [], [], []
    for _ in range(scrapes):
        time.sleep(metrics.CACHE_SECONDS + 0.05)  # a fresh collection, not the cached one
        cpu, began = measure.cpu_seconds(server_pid), time.perf_counter()
        text = generate_latest(registry).decode()
        wall = time.perf_counter() - began
        cpus.append(max(0.0, measure.cpu_seconds(server_pid) - cpu - idle_rate * wall))
        walls.append(wall)
        requests.append(requests_of(text))
    began = time.perf_counter()
    generate_latest(registry)  # within the cache: no collection
    cached = time.perf_counter() - began
    return {
        "server_requests": statistics.median(requests),
        "server_cpu_ms_p50": 1000 * statistics.median(cpus),
        "wall_ms_p50": 1000 * statistics.median(walls),
        "wall_ms_max": 1000 * max(walls),
        "cached_wall_ms": 1000 * cached,
    }


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    levels = [tuple(int(n) for n in level.split(":")) for level in args.levels]
    settings = Settings(
        home=Path(tempfile.mkdtemp(prefix="jobs-bench-metrics-")),
        server_port=free_port(),
        work_pool="bench-metrics",
    )
    migrate(settings.app_database_url)
    processes: list[subprocess.Popen[bytes]] = []
    results: list[Result] = []
    try:
        server = services.start_server(settings)
        processes.append(server)
        services.wait_for_server(settings, server)
        setup(settings)
        services.deploy(settings, names=["ping/ping"])
        client = Client(settings)
        idle_rate = measure.idle_cpu_percent(server.pid, args.idle_seconds) / 100
        flow_now = batched_now = 0
        for flow_waiting, batched_waiting in levels:
            if flow_waiting > flow_now:
                client.submit_many("ping", [{}] * (flow_waiting - flow_now), lane="flow")
                flow_now = flow_waiting
            if batched_waiting > batched_now:
                client.submit_many("ping", [{}] * (batched_waiting - batched_now))
                batched_now = batched_waiting
            time.sleep(2)  # let the server settle after the submits
            result = {
                "flow_waiting": flow_now,
                "batched_waiting": batched_now,
                **scrape_cost(settings, server.pid, idle_rate, args.scrapes),
            }
            results.append(result)
            print(
                f"{flow_now:>6} flow-lane + {batched_now:>6} batched jobs waiting: "
                f"{result['server_requests']:.0f} server requests, "
                f"{result['server_cpu_ms_p50']:.1f} ms server CPU, "
                f"{result['wall_ms_p50']:.1f} ms wall (max {result['wall_ms_max']:.1f}); "
                f"cached: {result['cached_wall_ms']:.2f} ms"
            )
    finally:
        services.stop(processes)
    first, last = results[0], results[-1]
    if first["wall_ms_p50"] > 0:
        print(
            f"scrape wall time, {last['flow_waiting']}+{last['batched_waiting']} waiting vs "
            f"{first['flow_waiting']}+{first['batched_waiting']}: "
            f"{last['wall_ms_p50'] / first['wall_ms_p50']:.1f}x"
        )
    print(json.dumps({"bench": "metrics", "idle_server_cpu_pct": 100 * idle_rate,
                      "levels": results}))  # fmt: skip


if __name__ == "__main__":
    main()
