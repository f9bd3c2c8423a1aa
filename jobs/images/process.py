"""The image job: resize with a fit mode, convert, optimise, strip metadata."""

from __future__ import annotations

from jobs.images import decode, encode, naming
from jobs.images.params import ProcessImage
from jobs.images.resize import resized
from jobs.images.storage import Storage, log_written
from jobs.settings import Settings


def process_image(params: ProcessImage, settings: Settings) -> str:
    """Write the processed image beside its source; returns its name in the storage root."""
    storage = Storage(settings.storage_dir)
    source = storage.source(params.source)
    output = naming.processed(params)
    target = storage.target(output)
    box = (params.width, params.height)
    limit = settings.image_max_pixels
    image = resized(
        decode.load(source, params.source, limit, box, params.fit), box, params.fit, limit
    )
    encode.save(
        image,
        target,
        params.output_format,
        params.quality,
        optimize=params.optimize,
        keep_metadata=not params.strip_metadata,
    )
    log_written(output, target, f"{image.width}x{image.height} px")
    return output
