"""Thumbnails on real files, and the fast path: a 12 MP JPEG is never decoded at full size."""

from __future__ import annotations

import pytest
from PIL import Image

from jobs.images import decode
from jobs.images.params import MakeThumbnails
from jobs.images.thumbnails import decoded, make_thumbnails
from jobs.settings import Settings
from tests.support.images import BLUE, RED, bands, exif_jpeg, near, storage_settings, write

TWELVE_MP = (4000, 3000)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = storage_settings(tmp_path_factory.mktemp("thumbs") / "storage")
    write(bands(TWELVE_MP, (RED, BLUE)), settings.storage_dir / "photos/big.jpg", quality=90)
    exif_jpeg(settings.storage_dir / "photos/turned.jpg", bands(TWELVE_MP, (RED, BLUE)), 6)
    return settings


def test_one_job_writes_every_size_beside_the_source(media: Settings) -> None:
    params = MakeThumbnails(source="photos/big.jpg", sizes=[150, 300, 600])

    outputs = make_thumbnails(params, media)

    assert outputs == [
        "photos/big.thumb-150.webp",
        "photos/big.thumb-300.webp",
        "photos/big.thumb-600.webp",
    ]
    for size, output in zip((150, 300, 600), outputs, strict=True):
        image = Image.open(media.storage_dir / output)
        assert image.format == "WEBP"
        assert image.size == (size, size * 3 // 4)


def test_draft_decodes_a_12_mp_jpeg_at_a_reduced_scale(media: Settings) -> None:
    path = media.storage_dir / "photos/big.jpg"
    limit = media.image_max_pixels

    full = decode.load(path, "photos/big.jpg", limit)
    for_600 = decoded(path, MakeThumbnails(source="photos/big.jpg"), limit)
    for_150 = decoded(path, MakeThumbnails(source="photos/big.jpg", sizes=[150]), limit)

    assert full.size == TWELVE_MP
    assert for_600.size == (1000, 750)  # 1/4 scale: the least that still covers 600 px
    assert for_150.size == (500, 375)  # 1/8, the smallest scale JPEG offers


def test_draft_respects_exif_orientation(media: Settings) -> None:
    params = MakeThumbnails(source="photos/turned.jpg", sizes=[600])
    image = decoded(media.storage_dir / "photos/turned.jpg", params, media.image_max_pixels)

    assert image.size == (750, 1000)
    [output] = make_thumbnails(params, media)
    thumbnail = Image.open(media.storage_dir / output).convert("RGB")
    assert thumbnail.size == (450, 600)
    assert near(thumbnail.getpixel((225, 20)), RED)


def test_small_images_are_not_enlarged_and_png_sources_work(media: Settings) -> None:
    write(Image.new("RGBA", (120, 80), (0, 128, 0, 128)), media.storage_dir / "icons/small.png")
    params = MakeThumbnails(source="icons/small.png", sizes=[100, 300], format="png")

    outputs = make_thumbnails(params, media)

    sizes = [Image.open(media.storage_dir / output).size for output in outputs]
    assert sizes == [(100, 67), (120, 80)]
    assert outputs[1] == "icons/small.thumb-300.png"
