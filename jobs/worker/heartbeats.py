"""Prefect's flow-run heartbeats, with a thread that stops the moment its run ends.

Prefect 3.9's heartbeat thread sleeps in one-second steps and the engine joins it when a run
ends, so every run kept its worker slot up to a second longer than its work took (half a
second on average). This is the same loop, same events and interval, waiting on an Event
instead; the warm worker's run processes use it in place of Prefect's.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import prefect.flow_engine
from prefect.flow_engine import MINIMUM_HEARTBEAT_INTERVAL


@contextmanager
def send_heartbeats(engine: Any, join_on_exit: bool = True) -> Iterator[None]:
    """Emit the run's heartbeat event every ``heartbeat_seconds`` until the block ends."""
    seconds = engine.heartbeat_seconds
    if seconds is None:
        yield
        return
    resource, related = engine._build_heartbeat_event_template()
    stop = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            run = engine.flow_run
            if run is not None and run.state is not None and run.state.is_final():
                return
            try:
                engine._emit_flow_run_heartbeat(resource, related)
            except Exception:
                engine.logger.debug("Failed to emit heartbeat", exc_info=True)
            stop.wait(max(seconds, MINIMUM_HEARTBEAT_INTERVAL))

    thread = threading.Thread(target=contextvars.copy_context().run, args=(beat,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        if join_on_exit:
            thread.join(timeout=2)


def install() -> None:
    """Make Prefect's flow engine (in this process) use :func:`send_heartbeats`."""
    prefect.flow_engine._send_heartbeats = send_heartbeats
