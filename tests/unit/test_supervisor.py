"""The supervisor `make up` uses: real child processes, killed and restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from jobs.supervisor import Supervisor


def sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])


def failing() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])


def until(check: Callable[[], bool], supervisor: Supervisor, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "never happened"
        supervisor.check()
        time.sleep(0.05)


def stopped(supervisor: Supervisor) -> None:
    for process in supervisor.stop():
        process.kill()
        process.wait()


def test_a_killed_child_is_reported_and_started_again() -> None:
    lines: list[str] = []
    supervisor = Supervisor(lines.append, backoff_seconds=0.1, check_seconds=3600)
    try:
        first = supervisor.add("worker", sleeper)
        other = supervisor.add("SMTP server", sleeper)

        os.kill(first.pid, signal.SIGKILL)
        until(lambda: supervisor.processes[0] is not first, supervisor)

        second, still = supervisor.processes
        assert second.poll() is None and second.pid != first.pid
        assert still is other and other.poll() is None
        assert [line.split(" ", 1)[1] for line in lines] == [
            "worker killed by signal SIGKILL; restarting it in 0.1 s",
            f"worker restarted (pid {second.pid})",
        ]
    finally:
        stopped(supervisor)


def test_a_child_that_dies_at_once_again_waits_longer_each_time() -> None:
    lines: list[str] = []
    supervisor = Supervisor(
        lines.append, backoff_seconds=0.05, settle_seconds=3600, check_seconds=3600
    )
    try:
        supervisor.add("HTTP receiver", failing)
        until(lambda: sum("restarting" in line for line in lines) == 4, supervisor)
    finally:
        stopped(supervisor)

    waits = [line.rsplit(" in ", 1)[1] for line in lines if "restarting" in line]
    assert waits == ["0.05 s", "0.1 s", "0.2 s", "0.4 s"]
    assert "HTTP receiver exited with code 3" in lines[0]


def test_a_child_that_ran_long_enough_restarts_with_the_first_wait_again() -> None:
    lines: list[str] = []
    supervisor = Supervisor(
        lines.append, backoff_seconds=0.05, settle_seconds=0.5, check_seconds=3600
    )
    starts = iter([failing, failing, sleeper, sleeper])
    try:
        supervisor.add("worker", lambda: next(starts)())  # fails twice, then stays up
        until(lambda: sum("restarted" in line for line in lines) == 2, supervisor)
        time.sleep(0.6)  # it has now run longer than settle_seconds
        os.kill(supervisor.processes[0].pid, signal.SIGKILL)
        until(lambda: sum("restarting" in line for line in lines) == 3, supervisor)
    finally:
        stopped(supervisor)

    waits = [line.rsplit(" in ", 1)[1] for line in lines if "restarting" in line]
    assert waits == ["0.05 s", "0.1 s", "0.05 s"]


def test_after_stop_nothing_is_restarted() -> None:
    lines: list[str] = []
    supervisor = Supervisor(lines.append, backoff_seconds=0.0, check_seconds=0.05)
    process = supervisor.add("worker", sleeper)

    [current] = supervisor.stop()
    process.kill()
    process.wait()
    time.sleep(0.3)  # several check intervals
    supervisor.check()

    assert current is process
    assert lines == []
