"""Queue benchmark: stock Prefect worker vs our warm worker vs the server's own ceiling.

Brings up its own Prefect server (SQLite, or PostgreSQL with --database-url), work pool and
deployments in a temporary home, then measures on the same no-op job (the `ping` deployment):
pickup and end-to-end latency of sequential jobs, burst throughput, the ceiling (the same
number of runs driven through their states by as many concurrent API clients, nothing
executed), bulk submission rate, and the server's CPU while a worker idles.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect.client.orchestration import PrefectClient

from bench import measure
from jobs import services
from jobs.cli import setup
from jobs.client import Client
from jobs.settings import Settings

Result = dict[str, Any]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.queue", description=__doc__)
    parser.add_argument("--database-url", help="Prefect server database (default: SQLite)")
    parser.add_argument("--sequential", type=int, default=20)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--stock-sequential", type=int, default=8)
    parser.add_argument("--stock-burst", type=int, default=24)
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--submits", type=int, default=1000)
    parser.add_argument("--idle-seconds", type=float, default=15)
    parser.add_argument("--skip-stock", action="store_true")
    return parser.parse_args(argv)


class Bench:
    """One server; workers come and go per scenario."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        home = Path(tempfile.mkdtemp(prefix="jobs-bench-"))
        self.settings = Settings(
            home=home,
            server_port=free_port(),
            work_pool="bench",
            prefect_database_url=args.database_url,
            worker_limit=args.slots,
        )
        self.processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Bench:
        self.server = services.start_server(self.settings)
        self.processes.append(self.server)
        services.wait_for_server(self.settings, self.server)
        setup(self.settings)
        services.deploy(self.settings, names=["ping/ping"])
        return self

    def __exit__(self, *exc: object) -> None:
        services.stop(self.processes)

    def scenario(
        self,
        start: Callable[[], subprocess.Popen[bytes]],
        runs: int,
        burst: int,
        one_by_one: bool = False,
    ) -> Result:
        worker = start()
        self.processes.append(worker)
        try:
            result = asyncio.run(self._measure(runs, burst, one_by_one))
            result["idle_server_cpu_pct"] = measure.idle_cpu_percent(
                self.server.pid, self.args.idle_seconds
            )
        finally:
            services.stop([worker], grace=60)
            self.processes.remove(worker)
        return result

    def bulk(self) -> measure.Create:
        """Creates runs the way applications do: ``jobs.Client.submit_many`` (bulk requests)."""
        jobs_client = Client(self.settings)

        async def create(count: int) -> list[UUID]:
            return [job.id for job in await jobs_client.submit_many_async("ping", [{}] * count)]

        return create

    async def _measure(self, runs: int, burst: int, one_by_one: bool) -> Result:
        async with PrefectClient(self.settings.api_url) as client:
            deployment = await client.read_deployment_by_name("ping/ping")
            await measure.sequential(client, deployment.id, 2)  # warm-up, not counted
            result: Result = {**(await measure.sequential(client, deployment.id, runs)).summary()}
            result["throughput_jobs_s"] = await measure.burst(
                client, deployment.id, burst, self.bulk()
            )
            if one_by_one:
                singly = measure.one_by_one(client, deployment.id)
                result["one_by_one_jobs_s"] = await measure.burst(
                    client, deployment.id, burst, singly
                )
        return result

    def ceilings(self) -> tuple[float, float]:
        """The ceiling with runs created one by one by the clients, and created in bulk first."""

        async def run() -> tuple[float, float]:
            async with PrefectClient(self.settings.api_url) as client:
                deployment = await client.read_deployment_by_name("ping/ping")
                count, clients = self.args.burst, self.args.slots
                singly = measure.one_by_one(client, deployment.id, concurrency=clients)
                one = await measure.ceiling(client, singly, count, clients)
                bulk = await measure.ceiling(client, self.bulk(), count, clients, up_front=True)
                return one, bulk

        return asyncio.run(run())

    def submit_rate(self) -> float:
        client = Client(self.settings)
        started = time.monotonic()
        client.submit_many("ping", [{}] * self.args.submits, delay=30 * 86400)
        return float(self.args.submits / (time.monotonic() - started))

    def stock(self, query_seconds: int) -> Callable[[], subprocess.Popen[bytes]]:
        return lambda: services.start_worker(
            self.settings,
            limit=self.args.slots,
            name=f"stock-{query_seconds}s",
            PREFECT_WORKER_QUERY_SECONDS=str(query_seconds),
        )

    def warm(self) -> subprocess.Popen[bytes]:
        return services.start_warm_worker(self.settings, limit=self.args.slots)


def run(args: argparse.Namespace) -> Result:
    results: Result = {}
    with Bench(args) as bench:
        results["warm"] = bench.scenario(bench.warm, args.sequential, args.burst, one_by_one=True)
        results["ceiling_jobs_s"], results["ceiling_bulk_jobs_s"] = bench.ceilings()
        # before the stock worker: it stores its job template in the pool on start, and from
        # then on the server validates job variables against it for every run created
        results["submit_per_s"] = bench.submit_rate()
        if not args.skip_stock:
            stock = (args.stock_sequential, args.stock_burst)
            results["stock_10s"] = bench.scenario(bench.stock(10), *stock)
            results["stock_1s"] = bench.scenario(bench.stock(1), *stock)
    results["backend"] = "postgres" if args.database_url else "sqlite"
    return results


def ratio(a: float, b: float, digits: int = 3) -> float:
    return round(a / b, digits)


def report(results: Result, args: argparse.Namespace) -> None:
    rows = [("warm worker", results["warm"])]
    rows += [
        (f"stock, {k[6:]} poll", results[k]) for k in ("stock_10s", "stock_1s") if k in results
    ]
    print(f"\nQueue benchmark ({results['backend']}, {args.slots} slots, no-op job)")
    print("burst jobs submitted with jobs.Client.submit_many (bulk requests)")
    print(
        f"{'':18}{'pickup p50':>11}{'p99':>8}{'e2e p50':>9}{'p99':>8}{'jobs/s':>9}{'idle cpu':>10}"
    )
    for name, r in rows:
        print(
            f"{name:18}{r['pickup_p50_s']:>10.2f}s{r['pickup_p99_s']:>7.2f}s{r['e2e_p50_s']:>8.2f}s"
            f"{r['e2e_p99_s']:>7.2f}s{r['throughput_jobs_s']:>9.2f}{r['idle_server_cpu_pct']:>9.1f}%"
        )
    warm = results["warm"]
    gap = " " * 44
    print(f"{'warm, 1-by-1 sub.':18}{gap}{warm['one_by_one_jobs_s']:>9.2f}  (4 creates in flight)")
    print(f"{'ceiling, 1-by-1':18}{gap}{results['ceiling_jobs_s']:>9.2f}  (each client creates)")
    print(f"{'ceiling, bulk':18}{gap}{results['ceiling_bulk_jobs_s']:>9.2f}  (created up front)")
    print(f"bulk submission: {results['submit_per_s']:.0f} jobs/s ({args.submits} jobs)")
    line = {
        "pickup_p50_s": round(warm["pickup_p50_s"], 3),
        "pickup_p99_s": round(warm["pickup_p99_s"], 3),
        "throughput_jobs_s": round(warm["throughput_jobs_s"], 3),
        "ceiling_jobs_s": round(results["ceiling_jobs_s"], 3),
        "ratio_to_ceiling": ratio(warm["throughput_jobs_s"], results["ceiling_jobs_s"]),
        "ratio_to_stock": ratio(
            warm["throughput_jobs_s"], results["stock_10s"]["throughput_jobs_s"], 1
        )
        if "stock_10s" in results
        else None,
        "ratio_to_stock_1s_poll": ratio(
            warm["throughput_jobs_s"], results["stock_1s"]["throughput_jobs_s"], 1
        )
        if "stock_1s" in results
        else None,
        "submit_per_s": round(results["submit_per_s"], 1),
        "idle_server_cpu_pct": round(warm["idle_server_cpu_pct"], 2),
        "backend": results["backend"],
        "ceiling_bulk_jobs_s": round(results["ceiling_bulk_jobs_s"], 3),
        "ratio_to_ceiling_bulk": ratio(warm["throughput_jobs_s"], results["ceiling_bulk_jobs_s"]),
        "one_by_one_jobs_s": round(warm["one_by_one_jobs_s"], 3),
        "one_by_one_ratio_to_ceiling": ratio(warm["one_by_one_jobs_s"], results["ceiling_jobs_s"]),
    }
    print(json.dumps(line))


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    report(run(args), args)


if __name__ == "__main__":
    main()
