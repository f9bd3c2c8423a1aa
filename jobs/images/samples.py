"""Sample inputs for the media jobs, generated into the storage root on first use."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from PIL import Image, ImageDraw

from jobs.images.params import (
    Fit,
    ImageFormat,
    ImagesToPdf,
    MakeThumbnails,
    ProcessImage,
    TranscodeVideo,
)
from jobs.params import JobParams

PHOTO = "samples/photo.jpg"
DRAWING = "samples/drawing.png"
CLIP = "samples/clip.mp4"


def photo(size: tuple[int, int] = (1600, 1200)) -> Image.Image:
    """A colourful test picture: gradients, a sun and a horizon."""
    width, height = size
    red = Image.linear_gradient("L").resize(size)
    blue = Image.radial_gradient("L").resize(size)
    picture = Image.merge("RGB", (red, red.transpose(Image.Transpose.ROTATE_180), blue))
    draw = ImageDraw.Draw(picture)
    draw.ellipse((width * 0.6, height * 0.1, width * 0.8, height * 0.1 + width * 0.2), "yellow")
    draw.rectangle((0, height * 0.7, width, height), "darkgreen")
    return picture


def drawing(size: tuple[int, int] = (800, 600)) -> Image.Image:
    """A transparent PNG-style picture: shapes on a clear background."""
    picture = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(picture)
    draw.ellipse((50, 50, size[0] - 50, size[1] - 50), (200, 40, 40, 255))
    draw.rectangle((size[0] // 3, size[1] // 3, size[0] // 2, size[1] // 2), (40, 40, 200, 160))
    return picture


def prepare(root: Path) -> None:
    """Create the sample inputs under ``root`` if they are missing (a clip only with ffmpeg)."""
    (root / "samples").mkdir(parents=True, exist_ok=True)
    if not (root / PHOTO).exists():
        photo().save(root / PHOTO, quality=90)
    if not (root / DRAWING).exists():
        drawing().save(root / DRAWING)
    if not (root / CLIP).exists() and shutil.which("ffmpeg"):
        clip(root / CLIP)


def clip(path: Path, seconds: float = 2) -> None:
    """A short test video with sound, made by ffmpeg."""
    source = f"testsrc=duration={seconds}:size=640x360:rate=25"
    tone = f"sine=frequency=440:duration={seconds}"
    command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source]
    command += ["-f", "lavfi", "-i", tone, "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(command, check=True, capture_output=True, timeout=60)


def samples() -> dict[str, JobParams]:
    """One sample job per media job type (video only where ffmpeg is installed)."""
    jobs: dict[str, JobParams] = {
        "image": ProcessImage(
            source=PHOTO, width=600, height=400, fit=Fit.COVER, format=ImageFormat.WEBP
        ),
        "thumbnails": MakeThumbnails(source=PHOTO),
        "pdf": ImagesToPdf(sources=[PHOTO, DRAWING], output="samples/album.pdf", title="Album"),
    }
    if shutil.which("ffmpeg"):
        jobs["video"] = TranscodeVideo(source=CLIP, max_height=240)
    return jobs
