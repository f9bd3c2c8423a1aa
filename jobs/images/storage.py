"""Files under the storage root: relative names resolved and checked, outputs written atomically."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from jobs import runlog
from jobs.errors import PermanentJobError


class Storage:
    """The storage root; every path is resolved (symlinks too) and must stay inside it."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def inside(self, relative: str) -> Path:
        """The real path of ``relative``, or PermanentJobError if it leads out of the root."""
        path = (self.root / relative).resolve()
        if path == self.root or not path.is_relative_to(self.root):
            raise PermanentJobError(f"{relative!r} points outside the storage root; refused")
        return path

    def source(self, relative: str) -> Path:
        """An existing regular file inside the root."""
        path = self.inside(relative)
        if not path.exists():
            raise PermanentJobError(f"{relative!r} does not exist in the storage root")
        if not path.is_file():
            raise PermanentJobError(f"{relative!r} is not a regular file")
        return path

    def target(self, relative: str) -> Path:
        """Where an output goes, inside the root; its folder is created if missing."""
        path = self.inside(relative)
        if path.is_dir():
            raise PermanentJobError(f"output {relative!r} is a folder")
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


@contextmanager
def atomic_output(final: Path) -> Iterator[Path]:
    """A temporary path beside ``final`` to write to; renamed to ``final`` if all goes well."""
    temp = final.with_name(f".{final.stem}.{secrets.token_hex(6)}.tmp{final.suffix}")
    try:
        yield temp
        with temp.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(temp, final)
    finally:
        temp.unlink(missing_ok=True)


def log_written(relative: str, path: Path, detail: str = "") -> None:
    """Log the output written: ``Wrote photos/cat.600w.jpg (48,213 bytes, 600x400 px)``."""
    size = f"{path.stat().st_size:,} bytes"
    runlog.logger(__name__).info("Wrote %s (%s)", relative, f"{size}, {detail}" if detail else size)
