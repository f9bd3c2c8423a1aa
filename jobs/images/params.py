"""Typed parameters of the image and media job types; paths are relative to the storage root."""

from __future__ import annotations

from enum import StrEnum
from pathlib import PurePosixPath
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from jobs.params import JobParams

MAX_DIMENSION = 10_000


class ImageFormat(StrEnum):
    """Output format of an image."""

    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"

    @property
    def suffix(self) -> str:
        return ".jpg" if self is ImageFormat.JPEG else f".{self.value}"


class Fit(StrEnum):
    """How an image is made to fit a width x height box."""

    COVER = "cover"  # scale to cover the box, then crop the overflow around the centre
    CONTAIN = "contain"  # scale to fit inside the box, keeping the aspect ratio
    EXACT = "exact"  # stretch to exactly the box


class VideoFormat(StrEnum):
    """Output container (and codecs) of a transcoded video."""

    MP4 = "mp4"  # H.264 + AAC
    WEBM = "webm"  # VP9 + Opus


_SUFFIXES = {".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".webp": "webp"}


def _format_name(value: Any) -> Any:
    if isinstance(value, str):
        lowered = value.strip().lower()
        return _SUFFIXES.get(f".{lowered}", lowered)
    return value


def _relative_path(value: str) -> str:
    path = PurePosixPath(value)
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if path.is_absolute():
        raise ValueError("must be a path relative to the storage root")
    if ".." in path.parts or str(path) == ".":
        raise ValueError("must name a file inside the storage root, without '..'")
    return str(path)


RelativePath = Annotated[str, Field(min_length=1, max_length=1024), AfterValidator(_relative_path)]
Dimension = Annotated[int, Field(ge=1, le=MAX_DIMENSION)]
Quality = Annotated[int, Field(ge=1, le=100)]
OutputFormat = Annotated[ImageFormat, BeforeValidator(_format_name)]


def format_of(path: str) -> ImageFormat | None:
    """The output format a file name's suffix stands for, if it is one."""
    suffix = _SUFFIXES.get(PurePosixPath(path).suffix.lower())
    return ImageFormat(suffix) if suffix else None


class ProcessImage(JobParams):
    """Resize, convert and optimise one image; written beside it, e.g. cat.600x400-cover.jpg."""

    source: RelativePath
    width: Dimension | None = None
    height: Dimension | None = None
    fit: Fit = Fit.CONTAIN
    format: OutputFormat | None = Field(None, description="Default: the source's format.")
    quality: Quality = 85
    strip_metadata: bool = Field(True, description="Drop EXIF, XMP and comments; sRGB colours.")
    optimize: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.fit is not Fit.CONTAIN and (self.width is None or self.height is None):
            raise ValueError(
                f"fit {self.fit.value!r} needs both width and height; "
                f"got width={self.width}, height={self.height}"
            )
        if self.format is None and format_of(self.source) is None:
            raise ValueError(
                "format is needed (jpeg, png or webp): the source's suffix "
                f"{PurePosixPath(self.source).suffix!r} is none of .jpg, .jpeg, .png, .webp"
            )
        return self

    @property
    def output_format(self) -> ImageFormat:
        output = self.format or format_of(self.source)
        assert output is not None
        return output


class MakeThumbnails(JobParams):
    """Several thumbnails of one image, each within a square box, e.g. cat.thumb-150.webp."""

    source: RelativePath
    sizes: list[Dimension] = Field([150, 300, 600], min_length=1, max_length=10)
    format: OutputFormat = ImageFormat.WEBP
    quality: Quality = 80

    @model_validator(mode="after")
    def _unique_sizes(self) -> Self:
        if len(set(self.sizes)) != len(self.sizes):
            raise ValueError(f"sizes must be unique; got {self.sizes}")
        return self


class ImagesToPdf(JobParams):
    """One PDF with one page per image, in the order given."""

    sources: list[RelativePath] = Field(min_length=1, max_length=100)
    output: RelativePath
    max_size: Dimension = Field(2000, description="Longest page edge, in pixels.")
    dpi: int = Field(150, ge=36, le=1200)
    quality: Quality = 85
    title: str | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _pdf_output(self) -> Self:
        if not self.output.lower().endswith(".pdf"):
            raise ValueError(f"output must end with .pdf; got {self.output!r}")
        if self.output in self.sources:
            raise ValueError(f"output must not be one of the sources; got {self.output!r}")
        return self


class TranscodeVideo(JobParams):
    """Transcode a video (ffmpeg), extract a poster frame: clip.h264.mp4, clip.poster.jpg."""

    source: RelativePath
    format: VideoFormat = VideoFormat.MP4
    max_height: int | None = Field(None, ge=16, le=4320)
    poster: bool = True
    poster_at_seconds: float = Field(1.0, ge=0, le=86_400)
