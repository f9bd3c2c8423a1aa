"""The PDF job: several images into one PDF, one page each."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from PIL import Image

from jobs import titles
from jobs.images import decode, encode
from jobs.images.params import ImagesToPdf
from jobs.images.resize import shrunk
from jobs.images.storage import Storage, atomic_output, log_written
from jobs.settings import Settings


def images_to_pdf(params: ImagesToPdf, settings: Settings) -> str:
    """Write the PDF; returns its name in the storage root."""
    storage = Storage(settings.storage_dir)
    sources = [storage.source(name) for name in params.sources]
    target = storage.target(params.output)
    pages = [
        _page(path, name, params, settings.image_max_pixels)
        for path, name in zip(sources, params.sources, strict=True)
    ]
    with atomic_output(target) as temp:
        pages[0].save(
            temp,
            format="PDF",
            save_all=True,
            append_images=pages[1:],
            resolution=float(params.dpi),
            quality=params.quality,
            title=params.title or PurePosixPath(params.output).stem,
        )
    log_written(params.output, target, titles.count(len(pages), "page"))
    return params.output


def _page(path: Path, name: str, params: ImagesToPdf, max_pixels: int) -> Image.Image:
    box = (params.max_size, params.max_size)
    image = decode.load(path, name, max_pixels, box)
    return encode.strip(encode.flatten(shrunk(image, params.max_size)))
