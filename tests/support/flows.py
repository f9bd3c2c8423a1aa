"""Flows that misbehave on purpose, deployed only by the tests (tests/support/prefect.yaml)."""

from __future__ import annotations

import ctypes
import os
import time

from prefect import flow, get_run_logger, task


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
