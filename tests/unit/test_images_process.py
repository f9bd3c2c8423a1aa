"""The image job's logic on real files: fit modes, formats, orientation, metadata, quality."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import ExifTags, Image

from jobs.images.params import ProcessImage
from jobs.images.process import process_image
from jobs.settings import Settings
from tests.support.images import (
    BLUE,
    GREEN,
    RED,
    bands,
    exif_jpeg,
    near,
    srgb_profile,
    storage_settings,
    write,
)


@pytest.fixture
def media(tmp_path: Path) -> Settings:
    settings = storage_settings(tmp_path / "storage")
    write(bands((800, 400), (RED, GREEN, GREEN, BLUE)), settings.storage_dir / "photos/cat.jpg")
    return settings


def run(media: Settings, **params: Any) -> Image.Image:
    output = process_image(ProcessImage(**{"source": "photos/cat.jpg", **params}), media)
    image = Image.open(media.storage_dir / output)
    image.load()
    return image


@pytest.mark.parametrize(
    ("params", "size", "name"),
    [
        ({"width": 200, "height": 200, "fit": "cover"}, (200, 200), "cat.200x200-cover.jpg"),
        ({"width": 200, "height": 200, "fit": "contain"}, (200, 100), "cat.200x200-contain.jpg"),
        ({"width": 200, "height": 200, "fit": "exact"}, (200, 200), "cat.200x200-exact.jpg"),
        ({"width": 400}, (400, 200), "cat.400w.jpg"),
        ({"height": 100}, (200, 100), "cat.100h.jpg"),
        ({"width": 1600, "height": 1600}, (1600, 800), "cat.1600x1600-contain.jpg"),
        ({}, (800, 400), "cat.full.jpg"),
    ],
)
def test_fit_modes_give_the_expected_size_and_name(
    media: Settings, params: dict[str, Any], size: tuple[int, int], name: str
) -> None:
    output = process_image(ProcessImage(source="photos/cat.jpg", **params), media)

    assert output == f"photos/{name}"
    assert Image.open(media.storage_dir / output).size == size


def test_cover_crops_around_the_centre_and_exact_stretches(media: Settings) -> None:
    cover = run(media, width=200, height=200, fit="cover").convert("RGB")
    exact = run(media, width=200, height=200, fit="exact").convert("RGB")

    assert near(cover.getpixel((2, 100)), GREEN)  # the red and blue outer bands are cut off
    assert near(cover.getpixel((197, 100)), GREEN)
    assert near(exact.getpixel((2, 100)), RED)  # nothing cut off, squeezed instead
    assert near(exact.getpixel((197, 100)), BLUE)


@pytest.mark.parametrize(
    ("fmt", "pil_format"), [("jpeg", "JPEG"), ("png", "PNG"), ("webp", "WEBP")]
)
def test_converts_to_each_format(media: Settings, fmt: str, pil_format: str) -> None:
    image = run(media, width=100, format=fmt)

    assert image.format == pil_format
    assert image.size == (100, 50)


def test_format_aliases_and_the_source_suffix_decide_the_output_format(media: Settings) -> None:
    assert run(media, width=100, format="JPG").format == "JPEG"
    assert run(media, width=100, format="WebP").format == "WEBP"
    assert run(media, width=100).format == "JPEG"


def test_transparency_is_kept_in_png_and_webp_and_flattened_on_white_for_jpeg(
    media: Settings,
) -> None:
    clear = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    clear.paste((200, 0, 0, 255), (25, 25, 75, 75))
    write(clear, media.storage_dir / "icons/dot.png")

    def convert(fmt: str) -> Image.Image:
        output = process_image(ProcessImage(source="icons/dot.png", format=fmt), media)
        return Image.open(media.storage_dir / output)

    assert convert("png").getpixel((0, 0)) == (0, 0, 0, 0)
    assert convert("webp").convert("RGBA").getpixel((0, 0))[3] == 0  # type: ignore[index]
    jpeg = convert("jpeg")
    assert jpeg.mode == "RGB"
    assert near(jpeg.getpixel((0, 0)), (255, 255, 255), 8)
    assert near(jpeg.getpixel((50, 50)), (200, 0, 0))


def test_exif_orientation_is_applied(media: Settings) -> None:
    # Orientation 6: the stored picture must be turned 90 degrees clockwise to be upright.
    exif_jpeg(media.storage_dir / "photos/turned.jpg", bands((400, 200), (RED, BLUE)), 6)

    output = process_image(ProcessImage(source="photos/turned.jpg", width=100), media)
    image = Image.open(media.storage_dir / output).convert("RGB")

    assert image.size == (100, 200)
    assert near(image.getpixel((50, 20)), RED)  # the left (red) half is now on top
    assert near(image.getpixel((50, 180)), BLUE)


def test_metadata_is_stripped_by_default(media: Settings) -> None:
    source = media.storage_dir / "photos/tagged.jpg"
    exif_jpeg(source, bands((300, 200), (RED, BLUE)), 1, icc_profile=srgb_profile())
    assert Image.open(source).getexif()[ExifTags.Base.Make] == "TestCam"

    for fmt in ("jpeg", "png", "webp"):
        output = process_image(ProcessImage(source="photos/tagged.jpg", format=fmt), media)
        image = Image.open(media.storage_dir / output)
        assert not image.getexif(), fmt
        assert "icc_profile" not in image.info, fmt
        assert "exif" not in image.info, fmt


def test_metadata_is_kept_on_request_without_the_orientation(media: Settings) -> None:
    exif_jpeg(media.storage_dir / "photos/tagged.jpg", bands((300, 200), (RED, BLUE)), 6)

    params = ProcessImage(source="photos/tagged.jpg", width=100, strip_metadata=False)
    image = Image.open(media.storage_dir / process_image(params, media))

    assert image.getexif()[ExifTags.Base.Make] == "TestCam"
    assert image.getexif().get(ExifTags.Base.Orientation, 1) == 1
    assert image.size == (100, 150)


def test_lower_quality_makes_a_smaller_file(media: Settings) -> None:
    write(Image.effect_noise((400, 400), 60).convert("RGB"), media.storage_dir / "noise.png")
    sizes = {}
    for quality in (20, 95):
        params = ProcessImage(source="noise.png", format="webp", quality=quality, width=399)
        output = process_image(params, media)
        sizes[quality] = (media.storage_dir / output).stat().st_size
        (media.storage_dir / output).unlink()

    assert sizes[20] < sizes[95] / 2


def test_output_is_replaced_atomically_leaving_no_temporary_files(media: Settings) -> None:
    run(media, width=100)
    run(media, width=100)

    names = sorted(path.name for path in (media.storage_dir / "photos").iterdir())
    assert names == ["cat.100w.jpg", "cat.jpg"]
