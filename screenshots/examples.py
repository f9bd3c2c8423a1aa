"""The jobs the dashboard is shown with: one that completes with progress, one that fails.

Both are media jobs in the flow lane (a flow run each, so each has a run page of its own)
that need nothing but the storage root: thumbnails of a photo, and an image job whose source
is missing (a permanent error: it fails at once, with the reason).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jobs.client import Client
from jobs.images import samples
from jobs.images.params import Fit, MakeThumbnails, ProcessImage
from jobs.status import JobStatus


@dataclass(frozen=True)
class Examples:
    """The two jobs, finished."""

    completed: JobStatus
    failed: JobStatus


def run(client: Client, folder: str = "samples", timeout: float = 180) -> Examples:
    """Put a photo in ``folder`` of the storage root, submit both jobs, wait for their end."""
    photo = Path(client.settings.storage_dir) / folder / "photo.jpg"
    if not photo.exists():
        photo.parent.mkdir(parents=True, exist_ok=True)
        samples.photo().save(photo, quality=90)
    thumbnails = MakeThumbnails(source=f"{folder}/photo.jpg", sizes=[150, 300, 600])
    missing = ProcessImage(source=f"{folder}/missing.jpg", width=600, height=400, fit=Fit.COVER)
    done = client.submit(thumbnails, lane="flow")
    fails = client.submit(missing, lane="flow")
    return Examples(client.wait(done, timeout=timeout), client.wait(fails, timeout=timeout))
