"""Export throughput: rows/second for CSV and Parquet exports of a large generated table.

Run: ``.venv/bin/python -m bench.data [rows]`` (default 200,000 orders, chunks of 10,000).
Prints one line for people and one JSON line for machines.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, create_engine, insert

from jobs.data import export
from jobs.data.params import ExportTable
from jobs.db.models import Base, Order, User

CHUNK = 10_000


def fill(engine: Engine, rows: int) -> None:
    """``rows`` orders of 100 users, inserted 20,000 at a time (keeps this process small)."""
    now = datetime.now(UTC)
    Base.metadata.create_all(engine)
    with engine.begin() as db:
        db.execute(insert(User), [_user(i, now) for i in range(1, 101)])
        for start in range(0, rows, 20_000):
            batch = range(start, min(rows, start + 20_000))
            db.execute(insert(Order), [_order(i, now) for i in batch])


def _user(i: int, now: datetime) -> dict[str, Any]:
    return {"id": i, "email": f"u{i}@example.com", "name": f"User {i}", "created_at": now}


def _order(i: int, now: datetime) -> dict[str, Any]:
    status = ("paid", "pending", "refunded")[i % 3]
    when = now - timedelta(seconds=i)
    return {"user_id": i % 100 + 1, "status": status, "total_cents": i % 9000, "created_at": when}


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def heap_peak_mb(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def main(rows: int = 200_000) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-data-") as folder:
        root = Path(folder)
        engine = create_engine(f"sqlite:///{root / 'bench.db'}")
        fill(engine, rows)
        baseline = max_rss_mb()

        def run(*formats: str) -> Callable[[], Any]:
            params = ExportTable.model_validate(
                {"table": "orders", "formats": list(formats), "chunk_size": CHUNK}
            )
            return lambda: export.run(params, "bench", engine=engine, root=root)

        csv_s, parquet_s = timed(run("csv")), timed(run("parquet"))
        rss_growth = max_rss_mb() - baseline
        chunked_heap = heap_peak_mb(run("csv", "parquet"))
        everything = export.query(ExportTable(table="orders"))
        full_heap = heap_peak_mb(lambda: pd.read_sql(everything, engine))
    return {
        "bench": "data-export",
        "rows": rows,
        "chunk_size": CHUNK,
        "csv_rows_per_s": round(rows / csv_s),
        "parquet_rows_per_s": round(rows / parquet_s),
        "peak_rss_growth_mb": round(rss_growth, 1),
        "chunked_heap_peak_mb": round(chunked_heap, 1),
        "full_load_heap_peak_mb": round(full_heap, 1),
    }


if __name__ == "__main__":
    result = main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
    print(
        f"export of {result['rows']} rows in chunks of {CHUNK}: "
        f"CSV {result['csv_rows_per_s']:,} rows/s, "
        f"Parquet {result['parquet_rows_per_s']:,} rows/s; "
        f"peak RSS +{result['peak_rss_growth_mb']} MB; Python heap peak "
        f"{result['chunked_heap_peak_mb']} MB chunked vs {result['full_load_heap_peak_mb']} MB "
        "loading the table at once"
    )
    print(json.dumps(result))
