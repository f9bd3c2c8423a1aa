"""Processes a fault test starts on the session's server: the recovery service, workers and
relays, with short heartbeat and detection settings so a loss is found in seconds."""

from __future__ import annotations

import subprocess
from typing import Any

from jobs import services
from jobs.settings import Settings

FAST: dict[str, Any] = {
    "worker_heartbeat_seconds": 1.0,
    "zombie_after_seconds": 6.0,
    "recovery_interval_seconds": 1.0,
    "recovery_backoff_seconds": 1.0,
    "recovery_max_reruns": 2,
}


class Cluster:
    """The recovery service, and the workers and relays a test asks for; stop ``processes``
    afterwards."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.processes: list[subprocess.Popen[bytes]] = [services.start_recovery(settings)]

    def worker(self, name: str, limit: int) -> subprocess.Popen[bytes]:
        worker = services.start_warm_worker(self.settings, limit=limit, name=name)
        self.processes.append(worker)
        return worker

    def relay(self) -> subprocess.Popen[bytes]:
        relay = services.start_relay(self.settings)
        self.processes.append(relay)
        return relay
