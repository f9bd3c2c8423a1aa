"""What a job logs when it has done something: one line per side effect, without secrets.

Outside a run these lines go to the module loggers (inside one, to the run's log: see
tests/e2e/test_email_jobs.py and test_outbound_jobs.py).
"""

from __future__ import annotations

import logging

import pytest

from jobs.outbound import send
from jobs.outbound.transport import Outgoing


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
