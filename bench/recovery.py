"""Recovery after a worker is killed outright, with the default settings.

Brings up its own Prefect server (SQLite), work pool, deployments and the recovery service in a
temporary home. Each round starts a warm worker, gives it jobs that would hold its slots for
ten minutes (the test-support ``linger`` flow, which finishes at once when re-run) plus one
job it has claimed but not started (``slow-start``, blocked before Running), SIGKILLs the
worker as the out-of-memory killer would, and starts a new worker a second later (as `make
up` does). Measured per job: kill -> Crashed (the recovery service noticed the missing
heartbeats), kill -> Completed (re-run after back-off and finished by the new worker).

Run: ``.venv/bin/python -m bench.recovery [--rounds 3] [--jobs 3]``; prints a table and one
JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.objects import StateType

from bench.measure import percentile
from bench.queue import free_port
from jobs import services
from jobs.cli import setup
from jobs.settings import Settings


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.recovery", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="workers killed, one per round")
    parser.add_argument("--jobs", type=int, default=3, help="running jobs held per round")
    return parser.parse_args()


async def _deployment(client: PrefectClient, name: str) -> UUID:
    return (await client.read_deployment_by_name(name)).id


async def _wait(client: PrefectClient, ids: list[UUID], *types: StateType) -> None:
    while True:
        runs = [await client.read_flow_run(run_id) for run_id in ids]
        if all(run.state is not None and run.state.type in types for run in runs):
            return
        await asyncio.sleep(0.5)


async def _first(client: PrefectClient, run_id: UUID, kind: StateType, after: datetime) -> float:
    states = await client.read_flow_run_states(run_id)
    return min(
        (s.timestamp - after).total_seconds()
        for s in states
        if s.type is kind and s.timestamp >= after
    )


async def one_round(settings: Settings, index: int, jobs: int) -> tuple[list[float], list[float]]:
    (settings.home / "slow-start").unlink(missing_ok=True)
    worker = services.start_warm_worker(settings, limit=jobs + 1, name=f"doomed-{index}")
    async with PrefectClient(settings.api_url) as client:
        linger = await _deployment(client, "test-linger/linger")
        slow = await _deployment(client, "test-slow-start/slow-start")
        held = [(await client.create_flow_run_from_deployment(linger)).id for _ in range(jobs)]
        claimed = (await client.create_flow_run_from_deployment(slow)).id
        await _wait(client, held, StateType.RUNNING)
        await _wait(client, [claimed], StateType.PENDING)
        await asyncio.sleep(2)  # its process has started and blocked; heartbeats went out
        killed = datetime.now(UTC)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        await asyncio.sleep(1)
        replacement = services.start_warm_worker(settings, limit=jobs + 1, name=f"new-{index}")
        try:
            runs = [*held, claimed]
            await _wait(client, runs, StateType.COMPLETED)
            crashed = [await _first(client, r, StateType.CRASHED, killed) for r in runs]
            completed = [await _first(client, r, StateType.COMPLETED, killed) for r in runs]
        finally:
            services.stop([replacement])
    return crashed, completed


def main() -> None:
    args = arguments()
    home = Path(tempfile.mkdtemp(prefix="jobs-bench-recovery-"))
    settings = Settings(home=home, server_port=free_port(), work_pool="bench-recovery")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        server = services.start_server(settings)
        processes.append(server)
        services.wait_for_server(settings, server)
        setup(settings)
        services.deploy(settings, "tests/support/prefect.yaml", names=["linger", "slow-start"])
        processes.append(services.start_recovery(settings))
        crashed: list[float] = []
        completed: list[float] = []
        started = time.monotonic()
        for index in range(args.rounds):
            c, d = asyncio.run(one_round(settings, index, args.jobs))
            crashed += c
            completed += d
            print(f"round {index + 1}: kill -> Crashed {max(c):.1f} s, -> Completed {max(d):.1f} s")
    finally:
        services.stop(processes)
    result = {
        "bench": "recovery",
        "jobs": len(crashed),
        "workers_killed": args.rounds,
        "zombie_after_seconds": settings.zombie_after_seconds,
        "heartbeat_seconds": settings.worker_heartbeat_seconds,
        "kill_to_crashed_p50_s": round(percentile(crashed, 50), 1),
        "kill_to_crashed_max_s": round(max(crashed), 1),
        "kill_to_completed_p50_s": round(percentile(completed, 50), 1),
        "kill_to_completed_max_s": round(max(completed), 1),
        "seconds": round(time.monotonic() - started),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
