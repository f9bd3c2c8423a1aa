"""Thumbnails per second for a 12 MP JPEG (3 sizes), with and without the JPEG draft fast path.

Run: .venv/bin/python -m bench.media [rounds]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from jobs.images.params import MakeThumbnails
from jobs.images.samples import photo
from jobs.images.thumbnails import make_thumbnails
from jobs.settings import Settings

SIZE = (4000, 3000)
SIZES = [150, 300, 600]


def make_source(root: Path) -> None:
    """A 12 MP camera-like JPEG: a picture with sensor-like noise, quality 90."""
    noise = Image.effect_noise(SIZE, 24).convert("RGB")
    Image.blend(photo(SIZE), noise, 0.15).save(root / "photo.jpg", quality=90)


def thumbnails_per_second(settings: Settings, rounds: int, *, fast: bool) -> float:
    params = MakeThumbnails(source="photo.jpg", sizes=SIZES)
    make_thumbnails(params, settings, fast=fast)  # warm up
    started = time.perf_counter()
    for _ in range(rounds):
        make_thumbnails(params, settings, fast=fast)
    return rounds * len(SIZES) / (time.perf_counter() - started)


def main(rounds: int = 10) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(storage_root=Path(folder))
        make_source(settings.storage_dir)
        fast = thumbnails_per_second(settings, rounds, fast=True)
        full = thumbnails_per_second(settings, rounds, fast=False)
    result = {
        "thumbnails_per_s_draft": round(fast, 1),
        "thumbnails_per_s_full_decode": round(full, 1),
        "speedup": round(fast / full, 2),
    }
    print(f"12 MP JPEG -> {SIZES} px WebP: draft path is {result['speedup']}x faster")
    print(json.dumps({"bench": "media.thumbnails", "rounds": rounds, **result}))
    return result


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
