"""Keeps the processes ``make up`` starts running: one that dies is started again.

Each child is registered with a name and the function that starts it. A watcher thread looks at
them twice a second; a child that exited is reported ("worker exited: killed by signal SIGKILL;
restarting it in 1 s") and started again. A child that dies again soon after a restart (within
``settle_seconds``) waits twice as long before the next start, up to ``max_backoff_seconds``, so
a process that cannot start (a port taken, a broken setting) does not spin; once a child has run
for ``settle_seconds`` its back-off starts afresh.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from jobs.exits import describe_exit

Start = Callable[[], subprocess.Popen[bytes]]


@dataclass
class _Child:
    name: str
    start: Start
    process: subprocess.Popen[bytes]
    started: float
    backoff: float
    restart_at: float | None = None  # set while it waits to be started again


class Supervisor:
    """Starts named child processes and restarts those that die, until :meth:`stop`.

    ``say`` gets each line it reports (a child died, a child restarted)."""

    def __init__(
        self,
        say: Callable[[str], None],
        *,
        backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 60.0,
        settle_seconds: float = 30.0,
        check_seconds: float = 0.5,
    ) -> None:
        self.say = say
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.settle_seconds = settle_seconds
        self.check_seconds = check_seconds
        self._children: list[_Child] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="supervisor", daemon=True)

    def add(self, name: str, start: Start) -> subprocess.Popen[bytes]:
        """Start a child and keep it running; returns its (first) process."""
        process = start()
        with self._lock:
            child = _Child(name, start, process, time.monotonic(), self.backoff_seconds)
            self._children.append(child)
        if not self._watcher.is_alive() and not self._stop.is_set():
            self._watcher.start()
        return process

    @property
    def processes(self) -> list[subprocess.Popen[bytes]]:
        """The children's current processes, in the order they were added."""
        with self._lock:
            return [child.process for child in self._children]

    def process(self, name: str) -> subprocess.Popen[bytes]:
        """The current process of the child named ``name``."""
        with self._lock:
            return next(child.process for child in self._children if child.name == name)

    def check(self) -> None:
        """One look at every child: report the dead, restart those whose wait is over."""
        now = time.monotonic()
        with self._lock:
            for child in self._children:
                if self._stop.is_set():
                    return
                if child.restart_at is None:
                    code = child.process.poll()
                    if code is None:
                        continue
                    if now - child.started >= self.settle_seconds:
                        child.backoff = self.backoff_seconds
                    child.restart_at = now + child.backoff
                    self._report(
                        f"{child.name} {describe_exit(code)}; restarting it in {child.backoff:g} s"
                    )
                elif now >= child.restart_at:
                    child.process = child.start()
                    child.started, child.restart_at = time.monotonic(), None
                    child.backoff = min(child.backoff * 2, self.max_backoff_seconds)
                    self._report(f"{child.name} restarted (pid {child.process.pid})")

    def stop(self) -> list[subprocess.Popen[bytes]]:
        """Restart nothing from now on; returns the current processes, for stopping."""
        self._stop.set()
        if self._watcher.is_alive():
            self._watcher.join()
        return self.processes

    def _watch(self) -> None:
        while not self._stop.wait(self.check_seconds):
            self.check()

    def _report(self, line: str) -> None:
        self.say(f"{datetime.now().astimezone():%H:%M:%S} {line}")
