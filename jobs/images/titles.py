"""Subjects of media run names (see jobs/titles.py): files relative to the storage root."""

from __future__ import annotations

from pathlib import PurePosixPath

from jobs import titles
from jobs.images import naming
from jobs.images.params import ImagesToPdf, MakeThumbnails, ProcessImage, TranscodeVideo


def image(params: ProcessImage) -> str:
    """``photos/cat.jpg → cat.600x400-cover.jpg``."""
    return f"{params.source} → {_name(naming.processed(params))}"


def thumbnails(params: MakeThumbnails) -> str:
    """``photos/cat.jpg (150, 300, 600 px)``."""
    return f"{params.source} ({', '.join(map(str, params.sizes))} px)"


def pdf(params: ImagesToPdf) -> str:
    """``scans/all.pdf (2 images)``."""
    return f"{params.output} ({titles.count(len(params.sources), 'image')})"


def video(params: TranscodeVideo) -> str:
    """``clips/intro.mov → intro.720p.h264.mp4``."""
    return f"{params.source} → {_name(naming.transcoded(params))}"


def poster(params: TranscodeVideo) -> str:
    """``clips/intro.mov → intro.poster.jpg``."""
    return f"{params.source} → {_name(naming.poster(params.source))}"


def _name(path: str) -> str:
    return PurePosixPath(path).name
