"""End-to-end tier: API -> (outbox -> relay ->) Prefect server -> worker (one slot) -> SMTP,
all real processes."""

from __future__ import annotations

import pytest

from jobs.client import Client
from tests.support.smtp import Recorder
from tests.support.stack import Stack


@pytest.fixture(scope="session")
def stack(prefect_server: Stack, app_db: str, smtp_server: Recorder) -> Stack:
    prefect_server.start_worker(limit=1)
    prefect_server.start_relay()
    return prefect_server


@pytest.fixture(scope="session")
def client(stack: Stack) -> Client:
    return Client(stack.settings)
