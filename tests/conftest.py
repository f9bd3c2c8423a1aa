"""Test session setup: a private home, free ports and real servers, started once per session.

Environment is fixed here, at import, before Prefect is imported anywhere: JOBS_* variables
of the caller are removed, then the test settings are set, so every process of the session
(this one, the server, the worker and its flow runs) sees the same configuration.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.support.ports import free_port  # imports no Prefect

for _name in [n for n in os.environ if n.startswith(("JOBS_", "PREFECT_"))]:
    del os.environ[_name]

HOME = Path(tempfile.mkdtemp(prefix="jobs-test-"))
SERVER_PORT = free_port()
HTTP_PORT = free_port()  # the outgoing-HTTP tests' receiver (tests/support/receiver.py)
os.environ.update(
    {
        "JOBS_HOME": str(HOME),
        "JOBS_SERVER_PORT": str(SERVER_PORT),
        "JOBS_SMTP_PORT": str(free_port()),
        "JOBS_DEV_SMTP_PORT": str(free_port()),
        "JOBS_WORK_POOL": "jobs-test",
        "JOBS_HTTP_ALLOW_HOSTS": f'["127.0.0.1:{HTTP_PORT}"]',
        # the scheduled reminders (08:00 UTC) must not mail the seeded app DB's users mid-session
        "JOBS_REMINDER_DAYS_BEFORE": "0.0001",
        "PREFECT_HOME": str(HOME / "prefect"),
        "PREFECT_API_URL": f"http://127.0.0.1:{SERVER_PORT}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_LOGGING_TO_API_BATCH_INTERVAL": "0.3",
    }
)

import pytest  # noqa: E402

from jobs.settings import Settings, get_settings  # noqa: E402
from tests.support.smtp import Recorder  # noqa: E402
from tests.support.stack import Stack  # noqa: E402


@pytest.fixture(scope="session")
def settings() -> Settings:
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture(scope="session")
def smtp_server(settings: Settings) -> Iterator[Recorder]:
    """A real SMTP server on loopback, at the JOBS_SMTP_PORT the jobs send to."""
    from aiosmtpd.controller import Controller

    recorder = Recorder(reject=["nobody@example.com"])
    controller = Controller(recorder, hostname="127.0.0.1", port=settings.smtp_port)
    controller.start()
    yield recorder
    controller.stop()


@pytest.fixture
def smtp(smtp_server: Recorder) -> Recorder:
    """The session's SMTP server, emptied and without scripted failures."""
    smtp_server.clear()
    return smtp_server


@pytest.fixture(scope="session")
def app_db(settings: Settings) -> str:
    """The application database, migrated to the newest schema."""
    from jobs.db.migrate import migrate

    migrate()
    return settings.app_database_url


@pytest.fixture(scope="session")
def prefect_server(settings: Settings) -> Iterator[Stack]:
    """The Prefect server with the work pool and queues; one per test session."""
    with Stack(settings) as stack:
        yield stack
