"""Where data jobs put their files: folders under the storage root, written atomically."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from jobs import runlog
from jobs.settings import get_settings


def folder(name: str, root: Path | None = None) -> Path:
    """``<storage root>/<name>``, created if missing."""
    path = (root or get_settings().storage_dir).resolve() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def relative(path: Path, root: Path | None = None) -> str:
    """``path`` relative to the storage root (``exports/orders-1.csv``), as log lines show it."""
    try:
        return path.relative_to((root or get_settings().storage_dir).resolve()).as_posix()
    except ValueError:
        return path.name


def log_written(path: Path, root: Path | None = None, what: str = "Wrote") -> None:
    """Log ``<what> reports/weekly-2026-11-22.csv (1,234 bytes)``."""
    size = path.stat().st_size
    runlog.logger(__name__).info("%s %s (%s bytes)", what, relative(path, root), f"{size:,}")


def partial(path: Path) -> Path:
    """The name a file has while it is being written."""
    return path.with_name(f".{path.name}.part")


@contextmanager
def atomic(path: Path) -> Iterator[Path]:
    """Yield a temporary path; on success it becomes ``path``, on error it is removed."""
    temporary = partial(path)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
