"""The media samples `make up` submits work on a fresh storage root."""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image

from jobs import samples
from jobs.images import samples as media_samples
from jobs.images.params import ImagesToPdf, MakeThumbnails, ProcessImage, TranscodeVideo
from jobs.images.pdf import images_to_pdf
from jobs.images.process import process_image
from jobs.images.thumbnails import make_thumbnails
from jobs.images.video import poster, transcode
from tests.support.images import storage_settings


def test_prepare_makes_the_inputs_and_every_media_sample_runs(tmp_path: Path) -> None:
    settings = storage_settings(tmp_path / "storage")
    media_samples.prepare(settings.storage_dir)
    media_samples.prepare(settings.storage_dir)  # a second call keeps what is there

    outputs: list[str] = []
    for name in ("image", "thumbnails", "pdf", "video"):
        params = samples.SAMPLES.get(name)
        if isinstance(params, ProcessImage):
            outputs.append(process_image(params, settings))
        elif isinstance(params, MakeThumbnails):
            outputs.extend(make_thumbnails(params, settings))
        elif isinstance(params, ImagesToPdf):
            outputs.append(images_to_pdf(params, settings))
        elif isinstance(params, TranscodeVideo):
            outputs += [transcode(params, settings), poster(params, settings)]

    assert Image.open(settings.storage_dir / media_samples.PHOTO).size == (1600, 1200)
    expected = 7 if shutil.which("ffmpeg") else 5  # image, 3 thumbnails, pdf, video + poster
    assert len(outputs) == expected
    assert all((settings.storage_dir / output).stat().st_size > 0 for output in outputs)
    assert Image.open(settings.storage_dir / outputs[0]).size == (600, 400)
