"""Reading images safely: known formats only, a pixel limit, corrupt files refused, EXIF
orientation applied, and JPEGs decoded at a reduced scale when the output is small."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from jobs.errors import PermanentJobError
from jobs.images.geometry import Box, Size, decode_size
from jobs.images.params import Fit

FORMATS = ("JPEG", "PNG", "WEBP", "AVIF", "GIF", "TIFF", "BMP")
_SWAPPING = {5, 6, 7, 8}  # EXIF orientations that swap width and height
_BOMB = (Image.DecompressionBombError, Image.DecompressionBombWarning)
_BROKEN = (*_BOMB, OSError, ValueError, SyntaxError, EOFError)
_PIXELS = re.compile(r"Image size \((\d+) pixels\)")  # how Pillow's bomb messages begin


@contextmanager
def reading(name: str, max_pixels: int) -> Iterator[None]:
    """Image errors inside the block become a PermanentJobError naming the file."""
    previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except _BROKEN as exc:
        raise _refusal(name, max_pixels, exc) from None
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def _refusal(name: str, max_pixels: int, exc: Exception) -> PermanentJobError:
    if isinstance(exc, _BOMB):
        # Not Pillow's message: it quotes twice the limit when the image is over twice the limit
        found = _PIXELS.match(str(exc))
        size = f"{found[1]} pixels, " if found else ""
        return PermanentJobError(
            f"{name} has too many pixels (limit {max_pixels}): {size}"
            "refused as a possible decompression bomb"
        )
    if isinstance(exc, UnidentifiedImageError):
        return PermanentJobError(f"{name} is not an image in a known format ({', '.join(FORMATS)})")
    return PermanentJobError(f"{name} is a corrupt or truncated image: {exc}")


def load(
    path: Path, name: str, max_pixels: int, box: Box | None = None, fit: Fit = Fit.CONTAIN
) -> Image.Image:
    """The image upright, in L, LA, RGB or RGBA mode.

    With a ``box``, a JPEG is decoded at the smallest scale (1/2, 1/4, 1/8) that still gives
    enough pixels for that box and fit.
    """
    with (
        path.open("rb") as file,
        reading(name, max_pixels),
        Image.open(file, formats=FORMATS) as im,
    ):
        if box is not None:
            _draft(im, box, fit)
        return _normal_mode(ImageOps.exif_transpose(im))


def _draft(im: Image.Image, box: Box, fit: Fit) -> None:
    swapped = im.getexif().get(ExifTags.Base.Orientation) in _SWAPPING
    width, height = im.size
    need = decode_size((height, width) if swapped else (width, height), box, fit)
    request: Size = (need[1], need[0]) if swapped else need
    im.draft(None, request)


def _normal_mode(im: Image.Image) -> Image.Image:
    if im.mode in ("L", "LA", "RGB", "RGBA"):
        return im
    return im.convert("RGBA" if im.has_transparency_data else "RGB")
