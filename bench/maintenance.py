"""Maintenance throughput: job runs deleted per second by the retention job (bulk deletes of 50
through the Prefect API, each run with a task run), and expired rows deleted per second by the
database cleanup (SQLite, chunks of 5000).

Run: ``.venv/bin/python -m bench.maintenance [runs] [rows]``; prints one JSON line. A Prefect
server and an app database are started in a temporary home, filled, pruned, then removed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


HOME = Path(tempfile.mkdtemp(prefix="bench-maintenance-"))
SERVER_PORT = _free_port()
for _name in [n for n in os.environ if n.startswith(("JOBS_", "PREFECT_"))]:
    del os.environ[_name]
os.environ.update(
    {
        "JOBS_HOME": str(HOME),
        "JOBS_SERVER_PORT": str(SERVER_PORT),
        "PREFECT_HOME": str(HOME / "prefect"),
        "PREFECT_API_URL": f"http://127.0.0.1:{SERVER_PORT}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
)

from prefect import task  # noqa: E402
from prefect.client.orchestration import PrefectClient, get_client  # noqa: E402
from prefect.states import Completed  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from jobs import services  # noqa: E402
from jobs.db.engine import get_engine  # noqa: E402
from jobs.db.migrate import migrate  # noqa: E402
from jobs.db.models import LoginSession, User  # noqa: E402
from jobs.maintenance import database, retention  # noqa: E402
from jobs.settings import get_settings  # noqa: E402


@task
def step() -> None:
    pass


async def _finished_run(
    client: PrefectClient, deployment_id: UUID, gate: asyncio.Semaphore
) -> None:
    async with gate:
        run = await client.create_flow_run_from_deployment(deployment_id)
        await client.create_task_run(step, run.id, "0")
        await client.set_flow_run_state(run.id, Completed(), force=True)


async def runs_deleted_per_second(count: int) -> float:
    async with get_client() as client:
        flow_id = await client.create_flow_from_name("bench-retention")
        deployment_id = await client.create_deployment(flow_id=flow_id, name="bench")
        gate = asyncio.Semaphore(8)
        await asyncio.gather(*(_finished_run(client, deployment_id, gate) for _ in range(count)))
        policy = retention.Policy(completed_days=0, completed_keep=0, failed_days=30)
        started = time.perf_counter()
        pruned = await retention.prune(client, policy, now=datetime.now(UTC) + timedelta(seconds=1))
        seconds = time.perf_counter() - started
    assert pruned.completed == count, pruned
    return count / seconds


def rows_deleted_per_second(count: int) -> float:
    migrate()
    engine, now = get_engine(), datetime.now(UTC)
    with engine.begin() as db:
        db.execute(insert(User).values(id=1, email="bench@example.com", name="Bench"))
        expired = [
            {"user_id": 1, "token": f"t{i}", "expires_at": now - timedelta(hours=1)}
            for i in range(count)
        ]
        db.execute(insert(LoginSession), expired)
    started = time.perf_counter()
    outcome = database.cleanup(get_settings(), now=now, vacuum=False)
    seconds = time.perf_counter() - started
    assert outcome["deleted"]["sessions"] == count, outcome
    return count / seconds


def main(runs: int = 500, rows: int = 100_000) -> dict[str, Any]:
    settings = get_settings()
    server = services.start_server(settings)
    try:
        services.wait_for_server(settings, server)
        run_rate = asyncio.run(runs_deleted_per_second(runs))
        row_rate = rows_deleted_per_second(rows)
    finally:
        services.stop([server])
        shutil.rmtree(HOME, ignore_errors=True)
    return {
        "bench": "maintenance",
        "retention_runs": runs,
        "retention_runs_deleted_per_s": round(run_rate, 1),
        "cleanup_rows": rows,
        "cleanup_rows_deleted_per_s": round(row_rate),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("runs", nargs="?", type=int, default=500)
    parser.add_argument("rows", nargs="?", type=int, default=100_000)
    args = parser.parse_args()
    sys.stdout.write(json.dumps(main(args.runs, args.rows)) + "\n")
