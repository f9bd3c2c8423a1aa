"""Cache invalidation: generated files under the storage root are deleted once they are old.

Generated means: everything under ``exports/`` and ``reports/`` (written by the data jobs),
media variants named the way jobs/images/naming.py names them (``cat.thumb-150.webp``,
``cat.600x400-cover.jpg``, ``cat.600w.jpg``, ``cat.full.webp``, ``clip.720p.h264.mp4``,
``clip.poster.jpg``, ...) and partial files left by interrupted writes. Sources are never
touched, symbolic links are neither followed nor deleted, and age is the file's mtime.
"""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

GENERATED_FOLDERS = ("exports", "reports")
VARIANT = re.compile(
    r"\.(thumb-\d+|\d+x\d+-(cover|contain|exact)|\d+[wh]|full|poster|(\d+p\.)?(h264|vp9))"
    r"\.[A-Za-z0-9]+$"
)
PARTIAL = re.compile(r"^\..+(\.part|\.tmp(\.[A-Za-z0-9]+)?)$")


def is_generated(relative: Path) -> bool:
    """Whether the file at ``relative`` (to the storage root) is a generated output."""
    if relative.parts and relative.parts[0] in GENERATED_FOLDERS:
        return True
    return bool(VARIANT.search(relative.name) or PARTIAL.match(relative.name))


@dataclass
class Swept:
    """What one pass deleted (relative paths) and how many bytes that freed."""

    deleted: list[str] = field(default_factory=list)
    freed_bytes: int = 0
    kept: int = 0


def _files(root: Path) -> Iterator[tuple[Path, os.stat_result]]:
    """Regular files under ``root`` (not links), with their lstat."""
    for folder, _dirs, names in os.walk(root, followlinks=False):
        for name in names:
            path = Path(folder) / name
            try:
                info = path.lstat()
            except FileNotFoundError:  # deleted meanwhile
                continue
            if stat.S_ISREG(info.st_mode):
                yield path, info


def sweep(root: Path, max_age_hours: float, now: float | None = None) -> Swept:
    """Delete generated files under ``root`` last modified more than ``max_age_hours`` ago."""
    swept = Swept()
    if not root.is_dir():
        return swept
    cutoff = (now if now is not None else time.time()) - max_age_hours * 3600
    for path, info in _files(root):
        relative = path.relative_to(root)
        if info.st_mtime < cutoff and is_generated(relative):
            path.unlink(missing_ok=True)
            swept.deleted.append(relative.as_posix())
            swept.freed_bytes += info.st_size
        else:
            swept.kept += 1
    _remove_empty_folders(root)
    return swept


def _remove_empty_folders(root: Path) -> None:
    """Empty folders under the generated folders go too (the folders themselves stay)."""
    for name in GENERATED_FOLDERS:
        top = root / name
        if not top.is_dir() or top.is_symlink():
            continue
        for folder, _dirs, _names in os.walk(top, topdown=False, followlinks=False):
            path = Path(folder)
            if path != top and not path.is_symlink() and not any(path.iterdir()):
                path.rmdir()
