"""Many callers at once, from several processes and threads of each (tests only)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

from prefect.client.orchestration import get_client

from jobs.outbound import limits
from jobs.settings import get_settings


def ensure_rate_limit(host: str, start: Barrier, threads: int, results: Queue[Any]) -> None:
    """In a process of its own: ``threads`` threads make sure of ``host``'s limit at once,
    after ``start`` (every thread of every process); each puts the id of the limit it got."""

    def one() -> str:
        start.wait()
        name = limits.ensure(host, get_settings())
        with get_client(sync_client=True) as client:
            return str(client.read_global_concurrency_limit_by_name(name).id)

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(one) for _ in range(threads)]
        for future in futures:
            try:
                results.put(future.result())
            except Exception as exc:  # reported to the test, which fails on it
                results.put(f"failed: {exc!r}")
