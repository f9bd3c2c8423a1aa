"""The video job with the real ffmpeg (skipped where it is not installed), and without it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from jobs.errors import PermanentJobError
from jobs.images import video
from jobs.images.params import TranscodeVideo
from jobs.images.samples import clip
from jobs.settings import Settings
from tests.support.images import storage_settings

PROJECT = Path(__file__).resolve().parents[2]
needs_ffmpeg = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
    reason="ffmpeg is not installed (Debian package ffmpeg)",
)


@pytest.fixture
def media(tmp_path: Path) -> Settings:
    return storage_settings(tmp_path / "storage")


def streams(path: Path) -> list[dict[str, object]]:
    probe = ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height"]
    done = subprocess.run([*probe, "-of", "json", str(path)], capture_output=True, check=True)
    return list(json.loads(done.stdout)["streams"])


@needs_ffmpeg
@pytest.mark.parametrize(
    ("fmt", "codecs", "name"),
    [
        ("mp4", ["h264", "aac"], "clips/intro.180p.h264.mp4"),
        ("webm", ["vp9", "opus"], "clips/intro.180p.vp9.webm"),
    ],
)
def test_transcodes_and_extracts_a_poster(
    media: Settings, fmt: str, codecs: list[str], name: str
) -> None:
    (media.storage_dir / "clips").mkdir()
    clip(media.storage_dir / "clips/intro.mov", seconds=1)
    params = TranscodeVideo(source="clips/intro.mov", format=fmt, max_height=180)

    output = video.transcode(params, media)
    poster = video.poster(params, media)

    found = streams(media.storage_dir / output)
    assert output == name
    assert [stream["codec_name"] for stream in found] == codecs
    assert (found[0]["width"], found[0]["height"]) == (320, 180)
    assert poster == "clips/intro.poster.jpg"
    image = Image.open(media.storage_dir / poster)
    assert (image.format, image.size) == ("JPEG", (320, 180))


@needs_ffmpeg
def test_a_poster_time_past_the_end_takes_the_first_frame(media: Settings) -> None:
    clip(media.storage_dir / "short.mp4", seconds=1)
    params = TranscodeVideo(source="short.mp4", poster_at_seconds=30)

    poster = video.poster(params, media)

    assert Image.open(media.storage_dir / poster).size == (640, 360)


@needs_ffmpeg
def test_playlists_that_would_open_other_files_are_refused(media: Settings) -> None:
    playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n"
    (media.storage_dir / "evil.mp4").write_text(playlist)

    with pytest.raises(PermanentJobError, match=r"ffmpeg failed on evil.mp4: .*not on whitelist"):
        video.transcode(TranscodeVideo(source="evil.mp4"), media)
    assert not list(media.storage_dir.glob("evil.*.mp4"))


@needs_ffmpeg
def test_a_file_that_is_not_a_video_fails_naming_it(media: Settings) -> None:
    (media.storage_dir / "notes.mp4").write_text("not a video\n")

    with pytest.raises(PermanentJobError, match=r"ffmpeg failed on notes.mp4"):
        video.transcode(TranscodeVideo(source="notes.mp4"), media)


def test_without_ffmpeg_on_path_the_job_fails_saying_so(media: Settings, tmp_path: Path) -> None:
    (media.storage_dir / "clip.mp4").write_bytes(b"\x00" * 64)
    empty = tmp_path / "bin"
    empty.mkdir()
    script = (
        "from pathlib import Path\n"
        "from jobs.errors import PermanentJobError\n"
        "from jobs.images import video\n"
        "from jobs.images.params import TranscodeVideo\n"
        "from jobs.settings import Settings\n"
        f"settings = Settings(storage_root=Path({str(media.storage_dir)!r}))\n"
        "try:\n"
        "    video.transcode(TranscodeVideo(source='clip.mp4'), settings)\n"
        "except PermanentJobError as exc:\n"
        "    print('PermanentJobError:', exc)\n"
    )
    env = {**os.environ, "PATH": str(empty)}

    done = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT, env=env, capture_output=True, text=True
    )

    assert done.returncode == 0, done.stderr
    expected = "PermanentJobError: ffmpeg not available (install Debian's ffmpeg package)"
    assert done.stdout.strip() == expected
