"""Flows that misbehave on purpose, deployed only by the tests (tests/support/prefect.yaml)."""

from __future__ import annotations

import ctypes
import os
import time

from prefect import flow, get_run_logger, task
from prefect.runtime import flow_run


@flow(name="test-segfault")
def segfault() -> None:
    ctypes.string_at(0)  # reads address 0: SIGSEGV


@flow(name="test-exit")
def hard_exit() -> None:
    os._exit(3)


@flow(name="test-stuck", timeout_seconds=2)
def stuck() -> int:
    return sum(range(10**13))  # one C call for hours: no Python-level timeout can stop it


@task
def doze(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@flow(name="test-nap")
def nap(seconds: float = 2.0) -> float:
    get_run_logger().info("napping for %s s", seconds)
    return doze(seconds)


@flow(name="test-linger")
def linger(first_seconds: float = 600.0, then_seconds: float = 0.5) -> float:
    """Sleeps ``first_seconds`` on its first run, ``then_seconds`` when run again (recovered)."""
    seconds = first_seconds if flow_run.run_count <= 1 else then_seconds
    get_run_logger().info("run %s: lingering for %s s", flow_run.run_count, seconds)
    return doze(seconds)


@flow(name="test-timed-nap", timeout_seconds=300)
def timed_nap(seconds: float = 2.0) -> float:
    """``nap`` with a time limit of its own, so a worker plans its runs differently."""
    return doze(seconds)


@flow(name="test-gated")
def gated(gate: str, percent: float = 40.0, fail: bool = False) -> float:
    """Reports ``percent`` progress, then waits until the file ``gate`` exists; then completes,
    or fails saying so. The tests open the gate once they have seen the progress."""
    from jobs.progress import Progress

    progress = Progress.start("Waiting at the gate")
    progress.update(percent, "at the gate")
    deadline = time.monotonic() + 120
    while not os.path.exists(gate):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the gate {gate} was never opened")
        time.sleep(0.1)
    if fail:
        raise RuntimeError("the gate opened onto a failure, on purpose")
    progress.update(100, "through the gate")
    return percent
