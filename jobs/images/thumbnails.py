"""The thumbnails job: several sizes of one image from a single, reduced-scale decode."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from jobs.images import decode, encode, naming
from jobs.images.params import MakeThumbnails
from jobs.images.resize import shrunk
from jobs.images.storage import Storage, log_written
from jobs.settings import Settings


def make_thumbnails(params: MakeThumbnails, settings: Settings, *, fast: bool = True) -> list[str]:
    """Write one thumbnail per size beside the source; returns their names, in size order."""
    storage = Storage(settings.storage_dir)
    image = decoded(storage.source(params.source), params, settings.image_max_pixels, fast=fast)
    outputs = []
    for size in params.sizes:
        name = naming.thumbnail(params.source, size, params.format)
        target, thumbnail = storage.target(name), shrunk(image, size)
        encode.save(thumbnail, target, params.format, params.quality)
        log_written(name, target, f"{thumbnail.width}x{thumbnail.height} px")
        outputs.append(name)
    return outputs


def decoded(
    path: Path, params: MakeThumbnails, max_pixels: int, *, fast: bool = True
) -> Image.Image:
    """The source decoded once: a JPEG at the least scale the largest size needs, if ``fast``."""
    largest = max(params.sizes)
    return decode.load(path, params.source, max_pixels, (largest, largest) if fast else None)
