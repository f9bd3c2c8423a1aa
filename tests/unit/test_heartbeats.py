"""The warm worker's flow-run heartbeats: same events, a thread that stops with its run."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import prefect.flow_engine

from jobs.worker import heartbeats


@dataclass
class Engine:
    """The part of Prefect's flow-run engine the heartbeat loop uses."""

    heartbeat_seconds: int | None = 30
    flow_run: Any = None
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("test"))
    emitted: list[tuple[str, list[str]]] = field(default_factory=list)
    beat: threading.Event = field(default_factory=threading.Event)

    def _build_heartbeat_event_template(self) -> tuple[str, list[str]]:
        return "prefect.flow-run.x", ["related"]

    def _emit_flow_run_heartbeat(self, resource: str, related: list[str]) -> None:
        self.emitted.append((resource, related))
        self.beat.set()


def heartbeat_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.daemon and t.name.startswith("Thread-"))


def test_a_heartbeat_is_sent_at_once_and_the_thread_ends_with_the_block() -> None:
    engine = Engine()
    before = heartbeat_threads()

    with heartbeats.send_heartbeats(engine):
        assert engine.beat.wait(10)
        assert heartbeat_threads() == before + 1

    assert engine.emitted == [("prefect.flow-run.x", ["related"])]
    assert heartbeat_threads() == before  # joined, not left sleeping


def test_no_heartbeats_when_they_are_off() -> None:
    engine = Engine(heartbeat_seconds=None)

    with heartbeats.send_heartbeats(engine):
        pass

    assert engine.emitted == []


def test_install_replaces_prefects_heartbeat_context() -> None:
    original = prefect.flow_engine._send_heartbeats
    try:
        heartbeats.install()
        assert prefect.flow_engine._send_heartbeats is heartbeats.send_heartbeats
    finally:
        prefect.flow_engine._send_heartbeats = original
