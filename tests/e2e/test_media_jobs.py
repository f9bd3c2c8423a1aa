"""Media jobs end to end: jobs.Client -> Prefect server -> warm worker -> files in storage."""

from __future__ import annotations

import re
import shutil
import uuid

import pytest
from PIL import Image

from jobs.client import Client
from jobs.images.samples import clip, drawing, photo
from jobs.settings import Settings
from jobs.status import JobState, JobStatus
from tests.support.images import exif_jpeg, write
from tests.support.runs import names_and_logs


@pytest.fixture
def folder(settings: Settings) -> str:
    """A fresh folder in the storage root the worker uses, with a photo and a drawing."""
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    root = settings.storage_dir / name
    exif_jpeg(root / "photo.jpg", photo((1200, 900)), 6)  # stored sideways: upright is 900x1200
    write(drawing((400, 300)), root / "drawing.png")
    return name


def completed(
    client: Client, job_type: str, params: dict[str, object], lane: str | None = None
) -> JobStatus:
    status = client.wait(client.submit(job_type, params, lane=lane), timeout=120)
    assert status.state is JobState.COMPLETED, status.failure_reason
    assert status.attempts == 1
    assert status.progress == 100
    return status


def opened(settings: Settings, name: str) -> Image.Image:
    image = Image.open(settings.storage_dir / name)
    image.load()
    return image


def test_image_job_writes_the_resized_converted_image(
    client: Client, settings: Settings, folder: str
) -> None:
    params = {"source": f"{folder}/photo.jpg", "width": 300, "height": 200, "fit": "cover"}
    status = completed(client, "image", {**params, "format": "webp"}, lane="flow")

    image = opened(settings, f"{folder}/photo.300x200-cover.webp")
    assert (image.format, image.size) == ("WEBP", (300, 200))
    assert not image.getexif()
    name, tasks, logs = names_and_logs(status.id, "Wrote")
    assert name == f"image {folder}/photo.jpg → photo.300x200-cover.webp"
    assert tasks == [f"render-image {folder}/photo.jpg → photo.300x200-cover.webp"]
    size = (settings.storage_dir / folder / "photo.300x200-cover.webp").stat().st_size
    assert f"Wrote {folder}/photo.300x200-cover.webp ({size:,} bytes, 300x200 px)" in logs


def test_thumbnails_job_writes_every_size(client: Client, settings: Settings, folder: str) -> None:
    completed(client, "thumbnails", {"source": f"{folder}/photo.jpg", "sizes": [64, 128, 256]})

    for size in (64, 128, 256):
        image = opened(settings, f"{folder}/photo.thumb-{size}.webp")
        assert (image.format, image.size) == ("WEBP", (size * 3 // 4, size))  # upright


def test_pdf_job_writes_one_page_per_image(client: Client, settings: Settings, folder: str) -> None:
    sources = [f"{folder}/photo.jpg", f"{folder}/drawing.png"]
    completed(client, "pdf", {"sources": sources, "output": f"{folder}/album.pdf", "dpi": 72})

    pdf = (settings.storage_dir / folder / "album.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type /Page\b(?!s)", pdf)) == 2
    first_page = re.search(rb"/MediaBox \[ ?([\d. ]+?) ?\]", pdf)
    assert first_page is not None
    assert [float(n) for n in first_page[1].split()] == [0, 0, 900, 1200]  # 1 px = 1 pt at 72 dpi


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_video_job_transcodes_and_writes_a_poster(
    client: Client, settings: Settings, folder: str
) -> None:
    clip(settings.storage_dir / folder / "clip.mov", seconds=1)

    completed(client, "video", {"source": f"{folder}/clip.mov", "max_height": 144})

    header = (settings.storage_dir / folder / "clip.144p.h264.mp4").read_bytes()[:12]
    assert header[4:8] == b"ftyp"
    poster = opened(settings, f"{folder}/clip.poster.jpg")
    assert (poster.format, poster.size) == ("JPEG", (256, 144))


def test_bad_image_fails_at_once_and_the_next_job_completes(
    client: Client, settings: Settings, folder: str
) -> None:
    (settings.storage_dir / folder / "notes.jpg").write_text("no pixels here\n")

    bad = client.wait(client.submit("image", {"source": f"{folder}/notes.jpg"}), timeout=120)
    assert bad.state is JobState.FAILED
    assert bad.attempts == 1
    assert bad.failure_reason is not None
    assert f"{folder}/notes.jpg is not an image" in bad.failure_reason

    completed(client, "image", {"source": f"{folder}/drawing.png", "width": 100})
    assert opened(settings, f"{folder}/drawing.100w.png").size == (100, 75)
