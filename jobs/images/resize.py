"""Resizing a decoded image for a box and fit mode, reducing in big integer steps first."""

from __future__ import annotations

from PIL import Image

from jobs.errors import PermanentJobError
from jobs.images import geometry
from jobs.images.geometry import Box
from jobs.images.params import Fit

REDUCING_GAP = 3.0  # reduce() by an integer factor first, then resample the last 3x or less


def resized(image: Image.Image, box: Box, fit: Fit, max_pixels: int) -> Image.Image:
    """``image`` resized for ``box`` and ``fit``; the output may have at most ``max_pixels``."""
    width, height = geometry.output_size(image.size, box, fit)
    if width * height > max_pixels:
        raise PermanentJobError(
            f"an output of {width}x{height} pixels is over the limit of {max_pixels} pixels"
        )
    area = geometry.region(image.size, box, fit)
    if (width, height) == image.size and area == (0, 0, *image.size):
        return image
    return image.resize(
        (width, height), Image.Resampling.LANCZOS, box=area, reducing_gap=REDUCING_GAP
    )


def shrunk(image: Image.Image, longest: int) -> Image.Image:
    """``image`` made to fit a ``longest`` x ``longest`` square; never enlarged."""
    if max(image.size) <= longest:
        return image
    return resized(image, (longest, longest), Fit.CONTAIN, longest * longest)
