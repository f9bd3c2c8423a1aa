"""A worker started by hand, as the README shows, with only ``JOBS_`` variables set: it, its
forked runs and the jobs they submit all talk to the server the settings name."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from jobs import services
from jobs.client import Client
from jobs.status import JobState
from tests.support.emails import unique_address, welcome
from tests.support.smtp import Recorder
from tests.support.stack import Stack


@pytest.fixture
def by_hand(stack: Stack) -> Iterator[subprocess.Popen[bytes]]:
    stack.stop_worker()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOBS_", "PREFECT_"))}
    env.update(services.settings_env(stack.settings))
    logs = (stack.settings.home / "logs" / "by-hand.log").open("ab")
    worker = subprocess.Popen(
        [sys.executable, "-m", "jobs", "worker", "--name", "by-hand", "--limit", "2"],
        cwd=services.PROJECT_DIR,
        env=env,
        stdout=logs,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield worker
    finally:
        services.stop([worker])
        stack.start_worker(limit=1)


def test_a_worker_started_with_only_jobs_settings_runs_jobs_on_their_server(
    by_hand: subprocess.Popen[bytes], client: Client, smtp: Recorder
) -> None:
    address = unique_address()

    status = client.wait(client.submit("email", welcome(address)), timeout=120)

    assert status.state is JobState.COMPLETED, status.failure_reason
    assert len(smtp.to(address)) == 1
    assert by_hand.poll() is None
