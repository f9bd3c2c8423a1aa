"""Waiting for something that happens in another process: poll until it is so, or fail saying
what never happened. One form for sync checks, one for async ones; both check every 0.25 s."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

STEP = 0.25

What = str | Callable[[], str]
"""What the check waits for, e.g. "the run is final"; or a function that says so when the
wait has failed, to tell what was last seen."""


def wait_until(check: Callable[[], object], seconds: float, what: What) -> None:
    """Call ``check`` until it returns something true; AssertionError if ``seconds`` pass first."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() >= deadline:
            raise AssertionError(_never(what, seconds))
        time.sleep(STEP)


async def until(check: Callable[[], Awaitable[object]], seconds: float, what: What) -> None:
    """Await ``check`` until it returns something true; AssertionError if ``seconds`` pass first."""
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() >= deadline:
            raise AssertionError(_never(what, seconds))
        await asyncio.sleep(STEP)


def _never(what: What, seconds: float) -> str:
    return f"not so after {seconds:g} s: {what if isinstance(what, str) else what()}"
