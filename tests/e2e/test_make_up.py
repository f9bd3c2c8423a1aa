"""`make up` (``python -m jobs up``) as a user runs it: it supervises what it starts.

A whole second system (own home, ports, Prefect server) is started, its worker is SIGKILLed, and
`up` must say so, start a new worker that takes jobs, and on SIGTERM stop every process.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jobs.client import Client
from jobs.services import PROJECT_DIR
from jobs.settings import Settings
from jobs.status import JobState
from tests.support.emails import unique_address, welcome
from tests.support.ports import free_port


class Up:
    """A running ``python -m jobs up``, its output read line by line."""

    def __init__(self, home: Path) -> None:
        smtp = free_port()
        self.settings = Settings(
            home=home,
            server_port=free_port(),
            dev_smtp_port=smtp,
            smtp_port=smtp,
            dev_webhook_port=free_port(),
            api_port=free_port(),
            work_pool="jobs",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JOBS_", "PREFECT_"))}
        env.update(
            JOBS_HOME=str(home),
            JOBS_SERVER_PORT=str(self.settings.server_port),
            JOBS_DEV_SMTP_PORT=str(smtp),
            JOBS_SMTP_PORT=str(smtp),
            JOBS_DEV_WEBHOOK_PORT=str(self.settings.dev_webhook_port),
            JOBS_API_PORT=str(self.settings.api_port),
            PREFECT_HOME=str(home / "prefect"),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            DO_NOT_TRACK="1",
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jobs", "up"],
            cwd=PROJECT_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def expect(self, text: str, seconds: float = 600) -> str:
        """Wait for an output line containing ``text``; return it."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {text!r} in:\n" + "\n".join(self.output)) from None
            if line is None:
                raise AssertionError(f"up ended before {text!r}:\n" + "\n".join(self.output))
            self.output.append(line)
            if text in line:
                return line

    def children(self) -> dict[int, str]:
        """Its direct child processes: pid -> command line."""
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == self.process.pid:
                found[int(entry.name)] = cmdline
        return found


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    running = Up(tmp_path / "home")
    try:
        yield running
    finally:
        if running.process.poll() is None:
            os.killpg(running.process.pid, signal.SIGKILL)
        running.process.wait()


def test_make_up_restarts_a_killed_worker_and_stops_everything(up: Up) -> None:
    api = f"http://127.0.0.1:{up.settings.api_port}"
    assert (
        up.expect("HTTP API: ")
        == f"HTTP API: {api} (docs: {api}/docs; keys: jobs keys create NAME --scopes ...)"
    )
    up.expect("Press Ctrl-C to stop")
    children = up.children()
    [worker] = [pid for pid, cmdline in children.items() if " jobs worker" in cmdline]
    assert any(" jobs recovery" in cmdline for cmdline in children.values())
    assert any(" jobs api" in cmdline for cmdline in children.values())
    assert httpx.get(f"{api}/health", timeout=10).status_code == 200
    assert "swagger" in httpx.get(f"{api}/docs", timeout=10).text.lower()

    os.kill(worker, signal.SIGKILL)

    assert "worker killed by signal SIGKILL; restarting it in 1 s" in up.expect("worker killed")
    restarted = up.expect("worker restarted")
    new_worker = int(restarted.rsplit("pid ", 1)[1].rstrip(")"))
    assert " jobs worker" in up.children()[new_worker]
    address = unique_address()
    client = Client(up.settings)
    status = client.wait(client.submit("email", welcome(address)), timeout=120)
    assert status.state is JobState.COMPLETED
    mail = [p.read_text() for p in (up.settings.maildir / "new").iterdir()]
    assert sum(address in text for text in mail) == 1

    started = set(up.children())
    up.process.send_signal(signal.SIGTERM)
    assert up.process.wait(timeout=120) == 0
    up.expect("Stopped.")
    assert not any(Path(f"/proc/{pid}").exists() for pid in started)
