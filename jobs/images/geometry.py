"""Fit modes as arithmetic: the output size and the region of the source it is made from."""

from __future__ import annotations

import math

from jobs.images.params import Fit

Size = tuple[int, int]
Box = tuple[int | None, int | None]  # a missing side is unbounded
Region = tuple[float, float, float, float]


def _scale(source: Size, box: Box, fit: Fit) -> float:
    ratios = [side / whole for side, whole in zip(box, source, strict=True) if side is not None]
    if not ratios:
        return 1.0
    return max(ratios) if fit is Fit.COVER else min(ratios)


def _scaled(source: Size, scale: float) -> Size:
    return max(1, round(source[0] * scale)), max(1, round(source[1] * scale))


def output_size(source: Size, box: Box, fit: Fit) -> Size:
    """The size of the output image."""
    if fit is not Fit.CONTAIN:
        width, height = box
        assert width is not None and height is not None, f"fit {fit} needs a full box"
        return width, height
    return _scaled(source, _scale(source, box, fit))


def region(source: Size, box: Box, fit: Fit) -> Region:
    """The part of the source the output shows: all of it, or a centred crop for cover."""
    if fit is not Fit.COVER:
        return 0.0, 0.0, float(source[0]), float(source[1])
    target = output_size(source, box, fit)
    scale = _scale(source, box, fit)
    width, height = target[0] / scale, target[1] / scale
    left, top = (source[0] - width) / 2, (source[1] - height) / 2
    return left, top, left + width, top + height


def decode_size(source: Size, box: Box, fit: Fit) -> Size:
    """The least size the whole source must be decoded at to make the output without upscaling."""
    if fit is Fit.EXACT:
        return output_size(source, box, fit)
    scale = _scale(source, box, fit)
    return max(1, math.ceil(source[0] * scale)), max(1, math.ceil(source[1] * scale))
