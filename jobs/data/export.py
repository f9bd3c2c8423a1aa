"""Export an allow-listed table to CSV, Excel and Parquet, streamed chunk by chunk."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Column, Connection, Date, DateTime, Engine, Select, func, select
from sqlalchemy.exc import DataError

from jobs import titles
from jobs.data import storage, tables, writers
from jobs.data.params import ExportTable
from jobs.db.engine import get_engine
from jobs.errors import PermanentJobError

OnChunk = Callable[[int, int], None]  # rows written so far, rows in all


@dataclass
class ExportResult:
    """What an export wrote."""

    rows: int = 0
    chunks: int = 0
    files: dict[str, str] = field(default_factory=dict)


def output_paths(params: ExportTable, job_id: str, root: Path | None = None) -> dict[str, Path]:
    """``<storage>/exports/<table>-<job id>.<format>`` for each requested format."""
    folder = storage.folder("exports", root)
    return {kind: folder / f"{params.table}-{job_id}.{kind}" for kind in params.formats}


def query(params: ExportTable) -> Select[*tuple[Any, ...]]:
    """The SELECT the export runs: allow-listed columns, bound filters, primary-key order."""
    statement = tables.ordered_select(params.table, params.columns)
    table = tables.table_of(params.table)
    moment = table.c[tables.TIME_COLUMNS[params.table]]
    if params.since is not None:
        statement = statement.where(moment >= _bound(moment, params.since))
    if params.until is not None:
        statement = statement.where(moment < _bound(moment, params.until))
    for name, value in params.where.items():
        column = table.c[name]
        statement = statement.where(
            column.in_(value) if isinstance(value, list) else column == value
        )
    return statement


def _bound(column: Column[Any], moment: datetime) -> Any:
    in_utc = moment.astimezone(UTC)
    is_day = isinstance(column.type, Date) and not isinstance(column.type, DateTime)
    return in_utc.date() if is_day else in_utc


def count(connection: Connection, statement: Select[*tuple[Any, ...]]) -> int:
    counted = select(func.count()).select_from(statement.order_by(None).subquery())
    return int(connection.scalar(counted) or 0)


def chunks(
    connection: Connection, statement: Select[*tuple[Any, ...]], size: int
) -> Iterator[pd.DataFrame]:
    """The result as DataFrames of at most ``size`` rows, read from a streaming cursor."""
    streaming = connection.execution_options(stream_results=True, max_row_buffer=size)
    yield from pd.read_sql(statement, streaming, chunksize=size)


def run(
    params: ExportTable,
    job_id: str,
    *,
    engine: Engine | None = None,
    root: Path | None = None,
    on_chunk: OnChunk | None = None,
) -> ExportResult:
    """Write the export files; only ``chunk_size`` rows are held in memory at any time."""
    try:
        return _run(params, job_id, engine or get_engine(), root, on_chunk)
    except DataError as exc:  # a filter value the column's type refuses
        raise PermanentJobError(f"the database refused the export's filters: {exc}") from None


def _run(
    params: ExportTable, job_id: str, engine: Engine, root: Path | None, on_chunk: OnChunk | None
) -> ExportResult:
    statement = query(params)
    columns = tables.columns_of(params.table, params.columns)
    paths = output_paths(params, job_id, root)
    result = ExportResult(files={kind: str(path) for kind, path in paths.items()})
    with engine.connect() as connection, ExitStack() as files:
        total = count(connection, statement)
        opened = [
            files.enter_context(writers.opened(kind, path, columns, params.table))
            for kind, path in paths.items()
        ]
        for frame in chunks(connection, statement, params.chunk_size):
            if frame.empty:
                continue
            for writer in opened:
                writer.write(frame)
            result.rows += len(frame)
            result.chunks += 1
            if on_chunk is not None:
                on_chunk(result.rows, total)
    for path in paths.values():  # complete now, under their final names
        storage.log_written(
            path, root, f"Exported {titles.count(result.rows, 'row')} of {params.table} to"
        )
    return result
