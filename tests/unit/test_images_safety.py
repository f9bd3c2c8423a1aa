"""Bad input: paths out of the storage root, non-images, corrupt files, bombs, bad parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from jobs import registry
from jobs.errors import InvalidJobParams, PermanentJobError
from jobs.images.params import ImagesToPdf, MakeThumbnails, ProcessImage
from jobs.images.pdf import images_to_pdf
from jobs.images.process import process_image
from jobs.images.thumbnails import make_thumbnails
from jobs.settings import Settings
from tests.support.images import RED, bands, storage_settings, write


@pytest.fixture
def media(tmp_path: Path) -> Settings:
    settings = storage_settings(tmp_path / "storage")
    write(bands((300, 200), (RED,)), settings.storage_dir / "photos/cat.jpg")
    write(bands((300, 200), (RED,)), tmp_path / "secret.jpg")
    return settings


def refused(job_type: str, **params: Any) -> str:
    with pytest.raises(InvalidJobParams) as caught:
        registry.validate(registry.job_type(job_type), params)
    return str(caught.value)


@pytest.mark.parametrize(
    "path", ["../secret.jpg", "photos/../../secret.jpg", "/etc/passwd", ".", ""]
)
def test_paths_out_of_the_storage_root_are_refused_at_submit(path: str) -> None:
    message = refused("image", source=path, width=100)

    assert "invalid image job parameters: source:" in message
    assert repr(path) in message


def test_pdf_paths_are_checked_at_submit() -> None:
    assert "sources.1" in refused("pdf", sources=["a.jpg", "../b.jpg"], output="a.pdf")
    assert "output" in refused("pdf", sources=["a.jpg"], output="/tmp/a.pdf")
    assert "must end with .pdf" in refused("pdf", sources=["a.jpg"], output="a.txt")


@pytest.mark.parametrize(
    ("job_type", "params", "expected"),
    [
        ("image", {"source": "a.jpg", "width": 0}, "width: Input should be greater than or equal"),
        ("image", {"source": "a.jpg", "width": 10_001}, "width: Input should be less than"),
        ("image", {"source": "a.jpg", "quality": 0}, "quality: Input should be greater"),
        ("image", {"source": "a.jpg", "quality": 101}, "quality: Input should be less"),
        ("image", {"source": "a.jpg", "format": "gif"}, "format: Input should be 'jpeg'"),
        ("image", {"source": "a.jpg", "width": 9, "fit": "cover"}, "needs both width and height"),
        ("image", {"source": "a.jpg", "fit": "squash"}, "fit: Input should be 'cover'"),
        ("image", {"source": "a.gif", "width": 9}, "format is needed"),
        ("thumbnails", {"source": "a.jpg", "sizes": []}, "sizes: List should have at least 1"),
        ("thumbnails", {"source": "a.jpg", "sizes": [150, 150]}, "sizes must be unique"),
        ("thumbnails", {"source": "a.jpg", "sizes": [20_000]}, "sizes.0: Input should be less"),
        ("video", {"source": "a.mp4", "format": "avi"}, "format: Input should be 'mp4'"),
    ],
)
def test_unsupported_formats_and_sizes_are_refused_at_submit(
    job_type: str, params: dict[str, Any], expected: str
) -> None:
    assert expected in refused(job_type, **params)


def test_paths_are_checked_again_when_the_job_runs(media: Settings) -> None:
    # model_construct skips validation: what a tampered flow-run parameter would look like
    for path in ("../secret.jpg", str(media.storage_dir.parent / "secret.jpg")):
        with pytest.raises(PermanentJobError, match=r"points outside the storage root"):
            process_image(ProcessImage.model_construct(source=path, width=10), media)


def test_symlinks_pointing_out_of_the_root_are_refused(media: Settings) -> None:
    root = media.storage_dir
    (root / "photos/link.jpg").symlink_to(root.parent / "secret.jpg")
    (root / "outside").symlink_to(root.parent, target_is_directory=True)

    with pytest.raises(PermanentJobError, match=r"'photos/link.jpg' points outside"):
        process_image(ProcessImage(source="photos/link.jpg", width=10), media)
    with pytest.raises(PermanentJobError, match=r"'outside/secret.jpg' points outside"):
        make_thumbnails(MakeThumbnails(source="outside/secret.jpg"), media)
    with pytest.raises(PermanentJobError, match=r"'outside/album.pdf' points outside"):
        images_to_pdf(ImagesToPdf(sources=["photos/cat.jpg"], output="outside/album.pdf"), media)
    assert not (root.parent / "album.pdf").exists()


def test_an_output_name_that_is_a_symlink_out_of_the_root_is_refused(media: Settings) -> None:
    victim = media.storage_dir.parent / "victim.jpg"
    victim.write_bytes(b"keep me")
    (media.storage_dir / "photos/cat.10w.jpg").symlink_to(victim)

    with pytest.raises(PermanentJobError, match=r"'photos/cat.10w.jpg' points outside"):
        process_image(ProcessImage(source="photos/cat.jpg", width=10), media)
    assert victim.read_bytes() == b"keep me"


def test_symlinks_inside_the_root_are_followed(media: Settings) -> None:
    (media.storage_dir / "latest.jpg").symlink_to(media.storage_dir / "photos/cat.jpg")

    assert process_image(ProcessImage(source="latest.jpg", width=30), media) == "latest.30w.jpg"


def test_missing_files_and_folders_fail_with_the_name(media: Settings) -> None:
    with pytest.raises(PermanentJobError, match=r"'photos/dog.jpg' does not exist"):
        process_image(ProcessImage(source="photos/dog.jpg", width=10), media)
    with pytest.raises(PermanentJobError, match=r"'photos' is not a regular file"):
        process_image(ProcessImage(source="photos", format="png"), media)


def test_a_file_that_is_not_an_image_fails_naming_it(media: Settings) -> None:
    (media.storage_dir / "photos/notes.jpg").write_text("these are not pixels\n" * 20)

    with pytest.raises(PermanentJobError, match=r"photos/notes.jpg is not an image in a known"):
        process_image(ProcessImage(source="photos/notes.jpg", width=10), media)


def test_formats_outside_the_allowed_list_are_refused(media: Settings) -> None:
    write(bands((50, 50), (RED,)), media.storage_dir / "photos/cat.ppm", format="PPM")

    with pytest.raises(PermanentJobError, match=r"photos/cat.ppm is not an image in a known"):
        process_image(ProcessImage(source="photos/cat.ppm", format="png"), media)


@pytest.mark.parametrize("name", ["photos/cat.jpg", "photos/cat.png"])
def test_truncated_images_fail_naming_the_file(media: Settings, name: str) -> None:
    path = media.storage_dir / name
    write(Image.effect_noise((300, 200), 50).convert("RGB"), path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    with pytest.raises(PermanentJobError, match=f"{name} is a corrupt or truncated image"):
        process_image(ProcessImage(source=name, width=10), media)


def test_corrupt_image_data_fails_naming_the_file(media: Settings) -> None:
    path = write(Image.effect_noise((300, 200), 50), media.storage_dir / "photos/noise.png")
    data = bytearray(path.read_bytes())
    data[200:260] = bytes(60)  # zeroes inside the compressed pixel data
    path.write_bytes(bytes(data))

    with pytest.raises(PermanentJobError, match=r"photos/noise.png is a corrupt or truncated"):
        make_thumbnails(MakeThumbnails(source="photos/noise.png"), media)


def test_a_decompression_bomb_is_refused_with_the_default_limit(media: Settings) -> None:
    # 100 million pixels that compress to a few kilobytes
    bomb = write(Image.new("1", (10_000, 10_000)), media.storage_dir / "bomb.png")
    assert bomb.stat().st_size < 100_000

    with pytest.raises(PermanentJobError) as info:
        make_thumbnails(MakeThumbnails(source="bomb.png"), media)

    assert str(info.value) == (
        "bomb.png has too many pixels (limit 50000000): 100000000 pixels, "
        "refused as a possible decompression bomb"
    )


@pytest.mark.parametrize("size", [(120, 100), (300, 300)])  # over the limit, over twice the limit
def test_the_pixel_limit_comes_from_the_settings(tmp_path: Path, size: tuple[int, int]) -> None:
    media = storage_settings(tmp_path / "storage", image_max_pixels=10_000)
    write(bands(size, (RED,)), media.storage_dir / "big.png")
    write(bands((100, 100), (RED,)), media.storage_dir / "fine.png")

    with pytest.raises(PermanentJobError) as info:
        process_image(ProcessImage(source="big.png", width=10), media)
    # one limit only, whether Pillow warned (over the limit) or refused (over twice the limit)
    assert str(info.value) == (
        f"big.png has too many pixels (limit 10000): {size[0] * size[1]} pixels, "
        "refused as a possible decompression bomb"
    )
    assert process_image(ProcessImage(source="fine.png", width=10), media) == "fine.10w.png"


def test_an_output_over_the_pixel_limit_is_refused(media: Settings) -> None:
    params = ProcessImage(source="photos/cat.jpg", width=10_000, height=10_000, fit="exact")

    with pytest.raises(PermanentJobError, match=r"10000x10000 pixels is over the limit"):
        process_image(params, media)
