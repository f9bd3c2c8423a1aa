"""The system under test, started for real: Prefect server, pool and queues, deployments, worker."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import TracebackType

from jobs import services
from jobs.cli import setup
from jobs.settings import Settings


class Stack:
    """Starts the Prefect server once; ``deploy()`` and ``start_worker()`` add the rest."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.processes: list[subprocess.Popen[bytes]] = []
        self.deployed = False
        self.worker: subprocess.Popen[bytes] | None = None
        self.relay: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Stack:
        server = services.start_server(self.settings)
        self.processes.append(server)
        try:
            services.wait_for_server(self.settings, server)
        except Exception:
            self.__exit__(None, None, None)
            raise RuntimeError(self.log_tail("server")) from None
        setup(self.settings)
        return self

    def deploy(self) -> None:
        if not self.deployed:
            services.deploy(self.settings)
            services.deploy(self.settings, "tests/support/prefect.yaml")
            self.deployed = True

    def start_worker(self, limit: int = 1, kind: str = "warm") -> None:
        """Our warm worker (or Prefect's stock one); a no-op while one is running."""
        if self.worker is None:
            self.deploy()
            start = services.start_warm_worker if kind == "warm" else services.start_worker
            self.worker = start(self.settings, limit=limit, name=f"{kind}-worker")
            self.processes.append(self.worker)

    def start_relay(self) -> None:
        """The relay (outbox to Prefect); a no-op while one is running."""
        if self.relay is None:
            self.deploy()
            self.relay = services.start_relay(self.settings)
            self.processes.append(self.relay)

    def stop_relay(self) -> None:
        """Stop the running relay (SIGTERM)."""
        assert self.relay is not None
        services.stop([self.relay])
        self.processes.remove(self.relay)
        self.relay = None

    def stop_worker(self) -> int:
        """Stop the running worker the way an operator would (SIGTERM); its exit code."""
        assert self.worker is not None
        services.stop([self.worker], grace=90)
        self.processes.remove(self.worker)
        code, self.worker = self.worker.returncode, None
        return code

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = Path(self.settings.home) / "logs" / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        services.stop(list(reversed(self.processes)))
