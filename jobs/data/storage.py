"""Where data jobs put their files: folders under the storage root, written atomically."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from jobs.settings import get_settings


def folder(name: str, root: Path | None = None) -> Path:
    """``<storage root>/<name>``, created if missing."""
    path = (root or get_settings().storage_dir).resolve() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


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
