"""A host's rate limit, made sure of by many jobs at once: created once, without server errors."""

from __future__ import annotations

import multiprocessing
import uuid
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client

from jobs.outbound import limits
from jobs.settings import Settings
from tests.support.races import ensure_rate_limit

pytestmark = pytest.mark.usefixtures("prefect_server")

PROCESSES, THREADS = 4, 4


def test_concurrent_first_uses_of_a_host_create_its_limit_once(settings: Settings) -> None:
    host = f"race-{uuid.uuid4().hex[:8]}.example.com"
    server_log = Path(settings.home) / "logs" / "server.log"
    logged_before = server_log.stat().st_size
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(PROCESSES * THREADS)
    results = context.Queue()
    processes = [
        context.Process(target=ensure_rate_limit, args=(host, start, THREADS, results))
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    assert [process.exitcode for process in processes] == [0] * PROCESSES
    got = [results.get_nowait() for _ in range(PROCESSES * THREADS)]

    with get_client(sync_client=True) as client:
        named = [
            limit
            for limit in client.read_global_concurrency_limits(limit=200)
            if limit.name == limits.limit_name(host)
        ]
    assert len(named) == 1
    assert got == [str(named[0].id)] * PROCESSES * THREADS
    assert named[0].slot_decay_per_second == settings.http_rate_limit_default
    with server_log.open("rb") as log:
        log.seek(logged_before)
        logged = log.read().decode(errors="replace")
    assert "IntegrityError" not in logged
    assert "Traceback" not in logged
