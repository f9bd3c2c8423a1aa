"""Predictable output names, beside the source: photos/cat.jpg -> photos/cat.thumb-150.webp."""

from __future__ import annotations

from pathlib import PurePosixPath

from jobs.images.params import ImageFormat, ProcessImage, TranscodeVideo, VideoFormat

_CODECS = {VideoFormat.MP4: "h264", VideoFormat.WEBM: "vp9"}


def variant(source: str, tag: str, suffix: str) -> str:
    """``source`` with its suffix replaced by ``.<tag><suffix>``."""
    path = PurePosixPath(source)
    return str(path.with_name(f"{path.stem}.{tag}{suffix}"))


def processed(params: ProcessImage) -> str:
    """photos/cat.600x400-cover.jpg, cat.600w.jpg, cat.400h.jpg or cat.full.webp."""
    width, height = params.width, params.height
    if width and height:
        tag = f"{width}x{height}-{params.fit.value}"
    elif width or height:
        tag = f"{width}w" if width else f"{height}h"
    else:
        tag = "full"
    return variant(params.source, tag, params.output_format.suffix)


def thumbnail(source: str, size: int, fmt: ImageFormat) -> str:
    """photos/cat.thumb-150.webp."""
    return variant(source, f"thumb-{size}", fmt.suffix)


def transcoded(params: TranscodeVideo) -> str:
    """clips/intro.h264.mp4, or clips/intro.720p.h264.mp4 with a maximum height."""
    codec = _CODECS[params.format]
    tag = f"{params.max_height}p.{codec}" if params.max_height else codec
    return variant(params.source, tag, f".{params.format.value}")


def poster(source: str) -> str:
    """clips/intro.poster.jpg."""
    return variant(source, "poster", ".jpg")
