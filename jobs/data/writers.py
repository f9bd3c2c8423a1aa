"""Incremental writers for CSV, Excel (xlsx) and Parquet: one chunk of rows at a time.

Each keeps at most one chunk in memory: CSV is appended to, the Excel workbook is write-only
(rows go to a temporary file as they come), Parquet gets one row group per chunk.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from openpyxl import Workbook  # type: ignore[import-untyped]
from sqlalchemy import Column

from jobs.data import storage
from jobs.data.cells import excel_value, neutralise

EXCEL_MAX_ROWS = 1_048_576  # per sheet, header included
_ARROW_TYPES: dict[type[Any], Any] = {
    bool: pa.bool_(),
    int: pa.int64(),
    float: pa.float64(),
    str: pa.string(),
    datetime: pa.timestamp("us", tz="UTC"),
    date: pa.date32(),
}


class ChunkWriter(Protocol):
    """Takes the rows chunk by chunk; ``close`` finishes the file."""

    def write(self, frame: pd.DataFrame) -> None: ...

    def close(self) -> None: ...


def python_type(column: Column[Any]) -> type[Any]:
    try:
        return column.type.python_type
    except NotImplementedError:
        return str


def arrow_schema(columns: list[Column[Any]]) -> Any:
    """The Parquet schema of ``columns``, from their SQL types (so every chunk agrees)."""
    return pa.schema([(c.name, _ARROW_TYPES.get(python_type(c), pa.string())) for c in columns])


def text_columns(columns: list[Column[Any]]) -> list[str]:
    return [column.name for column in columns if python_type(column) is str]


class CsvWriter:
    """RFC 4180 CSV (CRLF, so cells with CR or LF are quoted) with a header row; text a
    spreadsheet would run as a formula is neutralised."""

    def __init__(self, path: Path, columns: list[Column[Any]]) -> None:
        self.text = text_columns(columns)
        self.handle = path.open("w", encoding="utf-8", newline="")
        header = pd.DataFrame(columns=[c.name for c in columns])
        header.to_csv(self.handle, index=False, lineterminator="\r\n")

    def write(self, frame: pd.DataFrame) -> None:
        safe = frame.assign(**{name: frame[name].map(_safe_text) for name in self.text})
        safe.to_csv(self.handle, header=False, index=False, lineterminator="\r\n")

    def close(self) -> None:
        self.handle.close()


def _safe_text(value: Any) -> Any:
    return neutralise(value) if isinstance(value, str) else value


class XlsxWriter:
    """A write-only workbook: one sheet per 1,048,575 rows, values made safe by excel_value."""

    def __init__(self, path: Path, columns: list[Column[Any]], title: str) -> None:
        self.path, self.title = path, title[:25]
        self.header = [column.name for column in columns]
        self.book = Workbook(write_only=True)
        self.sheets = 0
        self._new_sheet()

    def _new_sheet(self) -> None:
        self.sheets += 1
        title = self.title if self.sheets == 1 else f"{self.title} ({self.sheets})"
        self.sheet = self.book.create_sheet(title)
        self.sheet.append(self.header)
        self.rows = 1

    def write(self, frame: pd.DataFrame) -> None:
        for row in frame.itertuples(index=False, name=None):
            if self.rows == EXCEL_MAX_ROWS:
                self._new_sheet()
            self.sheet.append([excel_value(value) for value in row])
            self.rows += 1

    def close(self) -> None:
        self.book.save(self.path)


class ParquetWriter:
    """Parquet with a schema fixed up front; each chunk becomes one row group."""

    def __init__(self, path: Path, columns: list[Column[Any]]) -> None:
        self.schema = arrow_schema(columns)
        self.writer = pq.ParquetWriter(path, self.schema)

    def write(self, frame: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
        self.writer.write_table(table)

    def close(self) -> None:
        self.writer.close()


@contextmanager
def opened(kind: str, path: Path, columns: list[Column[Any]], title: str) -> Iterator[ChunkWriter]:
    """A writer of ``kind`` for ``path``; the file appears under its name only when complete."""
    with storage.atomic(path) as temporary:
        writer: ChunkWriter
        if kind == "csv":
            writer = CsvWriter(temporary, columns)
        elif kind == "xlsx":
            writer = XlsxWriter(temporary, columns, title)
        else:
            writer = ParquetWriter(temporary, columns)
        try:
            yield writer
        finally:
            writer.close()
