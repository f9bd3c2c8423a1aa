"""The video job: transcode with ffmpeg (H.264/AAC MP4 or VP9/Opus WebM) and a poster frame."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from jobs.errors import PermanentJobError
from jobs.images import naming
from jobs.images.params import TranscodeVideo, VideoFormat
from jobs.images.storage import Storage, atomic_output, log_written
from jobs.settings import Settings

NOT_AVAILABLE = "ffmpeg not available (install Debian's ffmpeg package)"
DEMUXERS = "mov,matroska,avi,mpegts,mpeg,flv,ogg,asf,gif"  # no playlists: they open other files
_CODECS = {
    VideoFormat.MP4: "-c:v libx264 -preset veryfast -crf 23 -pix_fmt yuv420p "
    "-c:a aac -b:a 128k -movflags +faststart",
    VideoFormat.WEBM: "-c:v libvpx-vp9 -crf 33 -b:v 0 -deadline good -cpu-used 5 -row-mt 1 "
    "-c:a libopus -b:a 96k",
}


def ffmpeg() -> str:
    """The ffmpeg program on PATH, or PermanentJobError saying how to get it."""
    found = shutil.which("ffmpeg")
    if found is None:
        raise PermanentJobError(NOT_AVAILABLE)
    return found


def transcode(params: TranscodeVideo, settings: Settings, timeout: float = 3000) -> str:
    """Write the transcoded video beside its source; returns its name in the storage root."""
    program = ffmpeg()
    storage = Storage(settings.storage_dir)
    source = storage.source(params.source)
    output = naming.transcoded(params)
    target = storage.target(output)
    with atomic_output(target) as temp:
        codecs = _CODECS[params.format].split()
        args = ["-map", "0:v:0", "-map", "0:a:0?", *_scale(params), *codecs, "-map_metadata", "-1"]
        command = [*_input(source), *args, "-f", params.format.value, f"file:{temp}"]
        _run(program, command, params.source, timeout)
    log_written(output, target)
    return output


def poster(params: TranscodeVideo, settings: Settings, timeout: float = 120) -> str:
    """Write a JPEG of the frame at ``poster_at_seconds`` (or the first, for a shorter video)."""
    program = ffmpeg()
    storage = Storage(settings.storage_dir)
    source = storage.source(params.source)
    output = naming.poster(params.source)
    target = storage.target(output)
    with atomic_output(target) as temp:
        for at in dict.fromkeys((params.poster_at_seconds, 0.0)):
            frame = ["-frames:v", "1", *_scale(params), "-q:v", "3", "-update", "1", "-f", "image2"]
            command = ["-ss", f"{at:.3f}", *_input(source), *frame, f"file:{temp}"]
            _run(program, command, params.source, timeout)
            if temp.exists() and temp.stat().st_size > 0:
                break
        else:
            raise PermanentJobError(f"{params.source} has no video frame to make a poster of")
    log_written(output, target, f"frame at {at:g} s")
    return output


def _input(source: Path) -> list[str]:
    return ["-protocol_whitelist", "file", "-format_whitelist", DEMUXERS, "-i", f"file:{source}"]


def _scale(params: TranscodeVideo) -> list[str]:
    """Even width and height (H.264 needs them), at most ``max_height`` high."""
    height = f"min({params.max_height},ih)" if params.max_height else "ih"
    return ["-vf", f"scale=-2:'trunc({height}/2)*2'"]


def _run(program: str, command: list[str], name: str, timeout: float) -> None:
    try:
        done = subprocess.run(
            [program, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *command],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise PermanentJobError(f"ffmpeg took longer than {timeout:.0f} s on {name}") from None
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise PermanentJobError(f"ffmpeg failed on {name}: {' '.join(reason)[-500:]}")
