"""Cache invalidation on real files: old generated files go, sources and fresh files stay."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from jobs.maintenance.cache import is_generated, sweep

DAY = 86400.0


def write(root: Path, relative: str, age_days: float, size: int = 10) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    stamp = time.time() - age_days * DAY
    os.utime(path, (stamp, stamp))
    return path


@pytest.mark.parametrize(
    ("relative", "generated"),
    [
        ("exports/orders-123.csv", True),
        ("reports/2026-03-01/report.png", True),
        ("photos/cat.thumb-150.webp", True),
        ("photos/cat.600x400-cover.jpg", True),
        ("photos/cat.600w.jpg", True),
        ("photos/cat.400h.png", True),
        ("photos/cat.full.webp", True),
        ("clips/intro.720p.h264.mp4", True),
        ("clips/intro.vp9.webm", True),
        ("clips/intro.poster.jpg", True),
        ("photos/.cat.3f2a9c.tmp.jpg", True),
        ("exports/.orders.csv.part", True),
        ("photos/cat.jpg", False),
        ("clips/intro.mp4", False),
        ("docs/album.pdf", False),
        ("photos/thumb-150.webp", False),
        ("photos/cat.fullsize.jpg", False),
    ],
)
def test_generated_outputs_are_told_from_sources(relative: str, generated: bool) -> None:
    assert is_generated(Path(relative)) is generated


def test_old_generated_files_are_deleted_and_everything_else_stays(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    old = [
        "exports/orders.csv",
        "exports/2026/orders.parquet",
        "reports/weekly.png",
        "photos/cat.thumb-150.webp",
        "clips/intro.720p.h264.mp4",
        "photos/.cat.3f2a9c.tmp.jpg",
    ]
    for relative in old:
        write(root, relative, age_days=8, size=100)
    kept = [
        write(root, "exports/fresh.csv", age_days=1),
        write(root, "photos/cat.thumb-300.webp", age_days=6.9),
        write(root, "photos/cat.jpg", age_days=400),
        write(root, "clips/intro.mp4", age_days=400),
    ]
    outside = write(tmp_path, "elsewhere/secret.csv", age_days=30)
    (root / "exports" / "link.csv").symlink_to(outside)

    swept = sweep(root, max_age_hours=7 * 24)

    assert sorted(swept.deleted) == sorted(old)
    assert swept.freed_bytes == 100 * len(old)
    assert swept.kept == len(kept)  # links are not looked at
    assert all(path.exists() for path in kept)
    assert outside.exists() and (root / "exports" / "link.csv").is_symlink()
    assert not (root / "exports" / "2026").exists()  # emptied folder removed
    assert (root / "exports").is_dir() and (root / "reports").is_dir()


def test_a_missing_storage_root_is_nothing_to_do(tmp_path: Path) -> None:
    swept = sweep(tmp_path / "missing", max_age_hours=1)

    assert swept.deleted == [] and swept.kept == 0
