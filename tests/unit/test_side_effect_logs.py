"""What a job logs when it has done something: one line per side effect, without secrets.

Outside a run these lines go to the module loggers (inside one, to the run's log: see
tests/e2e/test_email_jobs.py and test_outbound_jobs.py).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from jobs.data import storage as data_storage
from jobs.images.params import MakeThumbnails, ProcessImage
from jobs.images.process import process_image
from jobs.images.thumbnails import make_thumbnails
from jobs.outbound import send
from jobs.outbound.transport import Outgoing
from tests.support.images import GREEN, RED, bands, storage_settings, write


def test_an_image_job_logs_the_file_it_wrote(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    media = storage_settings(tmp_path / "storage")
    write(bands((800, 400), (RED, GREEN)), media.storage_dir / "photos/cat.jpg")
    caplog.set_level(logging.INFO, logger="jobs.images.storage")

    output = process_image(ProcessImage(source="photos/cat.jpg", width=400), media)
    make_thumbnails(MakeThumbnails(source="photos/cat.jpg", sizes=[100]), media)

    size = (media.storage_dir / output).stat().st_size
    thumb = (media.storage_dir / "photos/cat.thumb-100.webp").stat().st_size
    assert caplog.messages == [
        f"Wrote photos/cat.400w.jpg ({size:,} bytes, 400x200 px)",
        f"Wrote photos/cat.thumb-100.webp ({thumb:,} bytes, 100x50 px)",
    ]


def test_a_data_file_is_logged_relative_to_the_storage_root(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = data_storage.folder("exports", tmp_path) / "orders-1.csv"
    path.write_text("id\r\n1\r\n")
    caplog.set_level(logging.INFO, logger="jobs.data.storage")

    data_storage.log_written(path, tmp_path, "Exported 1 row of orders to")

    assert caplog.messages == ["Exported 1 row of orders to exports/orders-1.csv (7 bytes)"]


def test_an_http_attempt_is_logged_with_host_path_status_and_attempt(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="jobs.outbound.send")
    request = Outgoing(
        "POST",
        "https://hooks.example.com/in/orders?token=t0ps3cret",
        {"Authorization": "Bearer s3cret"},
        b'{"card": "4242"}',
    )

    send._log_attempt("Delivered webhook order.paid", request, "HTTP 200", 2, 35.4)
    send._log_attempt(None, request, "HTTP 503", 3, 12.0)

    assert caplog.messages == [
        "Delivered webhook order.paid: POST hooks.example.com/in/orders → HTTP 200 "
        "(attempt 2, 35 ms)",
        "Attempt failed: POST hooks.example.com/in/orders → HTTP 503 (attempt 3, 12 ms)",
    ]
    assert [record.levelno for record in caplog.records] == [logging.INFO, logging.WARNING]
    assert not [m for m in caplog.messages if "t0ps3cret" in m or "s3cret" in m or "4242" in m]
