"""Warm flow-run processes: a forkserver with everything preloaded, one fork per flow run."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from dataclasses import dataclass, field
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from uuid import UUID

from jobs.worker import child

PRELOAD = ["jobs.worker.preload"]


def warm_context() -> ForkServerContext:
    """A forkserver context whose server imports Prefect and the flows once, then forks runs."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def warm_up(context: ForkServerContext) -> None:
    """Start the forkserver now (it preloads), so the first job does not pay for it."""
    process = context.Process(target=os.getpid)
    process.start()
    process.join()


@dataclass
class RunProcess:
    """One flow run executing in a forked process."""

    flow_run_id: UUID
    process: BaseProcess
    deadline: float
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def start(
        cls,
        context: ForkServerContext,
        flow_run_id: UUID,
        time_limit: float,
        entrypoint: str | None = None,
    ) -> RunProcess:
        process = context.Process(
            target=child.execute,
            args=(str(flow_run_id), entrypoint),
            name=f"flow-run-{flow_run_id}",
        )
        process.start()
        return cls(flow_run_id, process, deadline=time.monotonic() + time_limit)

    @property
    def exitcode(self) -> int | None:
        return self.process.exitcode

    def kill(self) -> None:
        """SIGKILL the run's whole process group."""
        pid = self.process.pid
        if pid is not None and self.process.exitcode is None:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):  # not yet its own group leader
                os.kill(pid, signal.SIGKILL)
        self.process.join(timeout=5)
