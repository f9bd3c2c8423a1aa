"""Real image files for the media tests, generated with Pillow (no checked-in binaries)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import ExifTags, Image, ImageCms, ImageDraw

from jobs.settings import Settings

RED, GREEN, BLUE = (220, 30, 30), (30, 200, 30), (30, 30, 220)


def storage_settings(root: Path, **changes: Any) -> Settings:
    """Settings whose storage root is ``root`` (created)."""
    root.mkdir(parents=True, exist_ok=True)
    return Settings(storage_root=root, **changes)


def bands(size: tuple[int, int], colours: tuple[tuple[int, int, int], ...]) -> Image.Image:
    """Vertical bands of equal width, left to right."""
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    step = size[0] / len(colours)
    for index, colour in enumerate(colours):
        draw.rectangle((round(index * step), 0, round((index + 1) * step), size[1]), colour)
    return image


def write(image: Image.Image, path: Path, **options: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **options)
    return path


def exif_jpeg(path: Path, image: Image.Image, orientation: int, **options: Any) -> Path:
    """A JPEG with EXIF Orientation and Make ("TestCam") tags."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "TestCam"
    return write(image, path, format="JPEG", exif=exif.tobytes(), quality=95, **options)


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def near(pixel: Any, colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(int(a) - b) <= tolerance for a, b in zip(pixel, colour, strict=False))
