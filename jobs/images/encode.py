"""Writing images: format options tuned for size, alpha flattened for JPEG, metadata stripped."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image, ImageCms

from jobs.images.params import ImageFormat
from jobs.images.storage import atomic_output

_SRGB = ImageCms.createProfile("sRGB")


def save(
    image: Image.Image,
    path: Path,
    fmt: ImageFormat,
    quality: int,
    *,
    optimize: bool = True,
    keep_metadata: bool = False,
) -> None:
    """Write ``image`` to ``path`` atomically; in sRGB without metadata unless it is kept."""
    if fmt is ImageFormat.JPEG:
        image = flatten(image)
    options = _options(fmt, quality, optimize)
    if keep_metadata:
        options.update({k: v for k, v in image.info.items() if k in ("exif", "icc_profile")})
    else:
        image = strip(image)
    with atomic_output(path) as temp:
        image.save(temp, format=fmt.name, **options)


def _options(fmt: ImageFormat, quality: int, optimize: bool) -> dict[str, Any]:
    if fmt is ImageFormat.JPEG:
        return {"quality": quality, "optimize": optimize, "progressive": optimize}
    if fmt is ImageFormat.WEBP:
        return {"quality": quality, "method": 6 if optimize else 4}
    return {"optimize": optimize}


def flatten(image: Image.Image) -> Image.Image:
    """``image`` without its alpha channel, laid over white (for JPEG and PDF)."""
    if image.mode not in ("LA", "RGBA"):
        return image
    rgba = image.convert("RGBA")
    flat = Image.new("RGB", image.size, "white")
    flat.paste(rgba, mask=rgba.getchannel("A"))
    flat.info = dict(image.info)
    return flat


def strip(image: Image.Image) -> Image.Image:
    """A copy of ``image`` in sRGB, without EXIF, XMP, comments or colour profile."""
    icc = image.info.get("icc_profile")
    bare = _to_srgb(image, icc) if icc and image.mode in ("RGB", "RGBA") else image.copy()
    bare.info = {}
    return bare


def _to_srgb(image: Image.Image, icc: bytes) -> Image.Image:
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(image, profile, _SRGB, outputMode=image.mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image.copy()  # an unreadable profile: keep the pixels as they are
    return converted if converted is not None else image.copy()
