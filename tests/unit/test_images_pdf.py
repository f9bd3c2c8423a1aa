"""Several real images into one PDF."""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image

from jobs.images.params import ImagesToPdf
from jobs.images.pdf import images_to_pdf
from tests.support.images import BLUE, RED, bands, exif_jpeg, storage_settings, write


def media_boxes(pdf: bytes) -> list[list[float]]:
    """The MediaBox of each page, in points, in page order."""
    boxes = re.findall(rb"/MediaBox \[ ?([\d. ]+?) ?\]", pdf)
    return [[float(number) for number in box.split()] for box in boxes]


def test_one_page_per_image_in_order_sized_by_dpi(tmp_path: Path) -> None:
    media = storage_settings(tmp_path / "storage")
    root = media.storage_dir
    write(bands((300, 150), (RED, BLUE)), root / "scans/a.jpg")
    write(Image.new("RGBA", (150, 300), (0, 0, 255, 100)), root / "scans/b.png")
    exif_jpeg(root / "scans/c.jpg", bands((3000, 1500), (RED, BLUE)), 6)
    params = ImagesToPdf(
        sources=["scans/a.jpg", "scans/b.png", "scans/c.jpg"],
        output="out/scans.pdf",
        dpi=150,
        max_size=600,
        title="Scans",
    )

    assert images_to_pdf(params, media) == "out/scans.pdf"

    pdf = (root / "out/scans.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type /Page\b(?!s)", pdf)) == 3
    # pixels * 72 / dpi; the third page is upright (EXIF) and shrunk to fit 600 px
    assert media_boxes(pdf) == [[0, 0, 144, 72], [0, 0, 72, 144], [0, 0, 144, 288]]
    assert "Scans".encode("utf-16-be") in pdf  # the /Title
    assert [path.name for path in (root / "out").iterdir()] == ["scans.pdf"]
