"""The warm worker's loop: poll, claim, fork, supervise (crash, time limit, cancel), drain."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.exceptions import Abort, ObjectNotFound
from prefect.flows import Flow, load_flow_from_entrypoint
from prefect.states import Cancelled, Crashed, Failed, Pending
from prefect.utilities.engine import propose_state

from jobs.worker.processes import RunProcess, describe_exit, warm_context, warm_up

log = logging.getLogger("jobs.worker")


async def serve(api_url: str, pool: str, **options: Any) -> None:
    """Run a warm worker until SIGTERM/SIGINT (twice: at once)."""
    async with PrefectClient(api_url) as client:
        worker = WarmWorker(client, pool, **options)
        worker.install_signal_handlers()
        await worker.run()


class WarmWorker:
    """Runs the work pool's due flow runs, most urgent first, in warm forked processes."""

    def __init__(
        self,
        client: PrefectClient,
        pool: str,
        *,
        limit: int = 4,
        poll_seconds: float = 0.25,
        drain_seconds: float = 60,
        default_time_limit: float = 3600,
        name: str | None = None,
    ) -> None:
        self.client = client
        self.pool = pool
        self.limit = limit
        self.poll_seconds = poll_seconds
        self.drain_seconds = drain_seconds
        self.default_time_limit = default_time_limit
        self.name = name or f"warm-{socket.gethostname()}"
        self.context = warm_context()
        self.running: dict[UUID, RunProcess] = {}
        self.stopping = asyncio.Event()
        self.stop_now = asyncio.Event()
        self._time_limits: dict[UUID, float] = {}
        self._last_heartbeat = 0.0
        self._last_cancel_check = 0.0

    # -- lifecycle ---------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal)

    def _on_signal(self) -> None:
        if self.stopping.is_set():
            log.warning("second stop signal: stopping at once")
            self.stop_now.set()
        else:
            log.info("stop signal: taking no new runs, draining %d", len(self.running))
            self.stopping.set()

    async def run(self) -> None:
        """Serve until stopped; then drain in-flight runs (or crash them when told twice)."""
        warm_up(self.context)
        log.info("warm worker %s serving pool %r with %d slots", self.name, self.pool, self.limit)
        while not self.stopping.is_set():
            await self.tick()
            await self._sleep(self.poll_seconds)
        await self._drain()

    async def tick(self) -> None:
        await self._heartbeat()
        await self._supervise()
        free = self.limit - len(self.running)
        if free > 0:
            await self._take(free)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)

    async def _drain(self) -> None:
        deadline = time.monotonic() + self.drain_seconds
        while self.running and time.monotonic() < deadline and not self.stop_now.is_set():
            await self._supervise()
            await asyncio.sleep(0.2)
        for run in list(self.running.values()):
            run.kill()
            await self._crash(run.flow_run_id, "the worker stopped before the run finished")
        self.running.clear()
        log.info("warm worker %s stopped", self.name)

    # -- taking work -------------------------------------------------------------------------

    async def _take(self, free: int) -> None:
        due = await self.client.get_scheduled_flow_runs_for_work_pool(
            self.pool, scheduled_before=datetime.now(UTC) + timedelta(seconds=0.1)
        )
        for response in due:
            if len(self.running) >= self.limit or self.stopping.is_set():
                return
            flow_run = response.flow_run
            if flow_run.id not in self.running and await self._claim(flow_run):
                await self._launch(flow_run)

    async def _claim(self, flow_run: FlowRun) -> bool:
        try:
            state = await propose_state(self.client, Pending(), flow_run_id=flow_run.id)
        except Abort:
            return False
        return state.is_pending()

    async def _launch(self, flow_run: FlowRun) -> None:
        limit = await self._time_limit(flow_run)
        self.running[flow_run.id] = RunProcess.start(self.context, flow_run.id, limit)
        log.info("started flow run %s (%s)", flow_run.id, flow_run.name)

    async def _time_limit(self, flow_run: FlowRun) -> float:
        """The flow's own timeout plus a grace period, else the default limit."""
        deployment_id = flow_run.deployment_id
        if deployment_id is None:
            return self.default_time_limit
        if deployment_id not in self._time_limits:
            deployment = await self.client.read_deployment(deployment_id)
            timeout = None
            if deployment.entrypoint:
                flow: Flow[..., Any] = load_flow_from_entrypoint(deployment.entrypoint)
                timeout = flow.timeout_seconds
            self._time_limits[deployment_id] = timeout + 10 if timeout else self.default_time_limit
        return self._time_limits[deployment_id]

    # -- supervising -------------------------------------------------------------------------

    async def _supervise(self) -> None:
        for run in list(self.running.values()):
            if run.exitcode is not None:
                await self._reap(run)
            elif time.monotonic() > run.deadline:
                run.kill()
                self.running.pop(run.flow_run_id, None)
                await self._time_out(run)
        await self._cancel_requested()

    async def _reap(self, run: RunProcess) -> None:
        self.running.pop(run.flow_run_id, None)
        run.process.join()
        code = run.exitcode or 0
        if code != 0:
            await self._crash(run.flow_run_id, f"the flow run's process {describe_exit(code)}")

    async def _crash(self, flow_run_id: UUID, message: str) -> None:
        """Mark the run Crashed unless it already reached a final state."""
        try:
            flow_run = await self.client.read_flow_run(flow_run_id)
            if flow_run.state and flow_run.state.is_final():
                return
            await propose_state(self.client, Crashed(message=message), flow_run_id=flow_run_id)
            log.warning("flow run %s crashed: %s", flow_run_id, message)
        except (Abort, ObjectNotFound):
            pass

    async def _time_out(self, run: RunProcess) -> None:
        limit = run.deadline - run.started
        message = f"killed after its time limit of {limit:.0f} s"
        await self.client.set_flow_run_state(
            run.flow_run_id, Failed(name="TimedOut", message=message), force=True
        )
        log.warning("flow run %s %s", run.flow_run_id, message)

    async def _cancel_requested(self) -> None:
        if not self.running or time.monotonic() - self._last_cancel_check < 1:
            return
        self._last_cancel_check = time.monotonic()
        cancelling = await self.client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=list(self.running)),
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.CANCELLING])),
            )
        )
        for flow_run in cancelling:
            run = self.running.pop(flow_run.id, None)
            if run is not None:
                run.kill()
                await self.client.set_flow_run_state(
                    flow_run.id, Cancelled(message="Cancelled: the worker stopped its process")
                )

    async def _heartbeat(self) -> None:
        if time.monotonic() - self._last_heartbeat >= 30:
            self._last_heartbeat = time.monotonic()
            await self.client.send_worker_heartbeat(
                self.pool, self.name, heartbeat_interval_seconds=30
            )
