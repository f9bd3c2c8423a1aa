"""The warm worker's loop: poll, claim, fork, supervise (crash, time limit, cancel), drain.

While it holds runs, the worker reports them alive (:mod:`jobs.worker.heartbeats`); a worker that
cannot reach the server for nearly ``zombie_after`` seconds kills its runs itself, before the
recovery service declares them lost and re-runs them elsewhere, so a job never runs twice at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterState,
    FlowRunFilterStateType,
    WorkPoolFilter,
    WorkPoolFilterName,
)
from prefect.client.schemas.objects import FlowRun, State, StateType
from prefect.client.schemas.responses import DeploymentResponse
from prefect.client.schemas.sorting import FlowRunSort
from prefect.exceptions import Abort, ObjectNotFound
from prefect.flows import Flow, load_flow_from_entrypoint
from prefect.states import Cancelled, Crashed, Failed, Pending
from prefect.utilities.engine import propose_state

from jobs.exits import describe_exit
from jobs.prefect_api import prefect_client
from jobs.registry import BATCH_ENTRYPOINT, JOB_TYPES
from jobs.worker import heartbeats, wakeup
from jobs.worker.processes import RunProcess, warm_context, warm_up

log = logging.getLogger("jobs.worker")
BY_ENTRYPOINT = {job_type.entrypoint: job_type for job_type in JOB_TYPES.values()}


async def serve(api_url: str, pool: str, **options: Any) -> None:
    """Run a warm worker until SIGTERM/SIGINT (twice: at once)."""
    async with prefect_client(api_url) as client:
        worker = WarmWorker(client, pool, **options)
        worker.install_signal_handlers()
        await worker.run()


PLAN_SECONDS = 30.0
"""How long, by default, a deployment's launch plan is used before it is read again (redeploys
change it)."""


@dataclass(frozen=True)
class LaunchPlan:
    """A deployment's hard time limit, and its entrypoint if the forkserver preloaded it."""

    time_limit: float
    entrypoint: str | None

    @classmethod
    def of(cls, deployment: DeploymentResponse, default_limit: float) -> LaunchPlan:
        """Job types' deployments are planned from the catalogue; others by loading the flow."""
        entrypoint = deployment.entrypoint
        if not entrypoint:
            return cls(default_limit, None)
        job_type = BY_ENTRYPOINT.get(entrypoint)
        if job_type is None and entrypoint != BATCH_ENTRYPOINT:
            flow: Flow[..., Any] = load_flow_from_entrypoint(entrypoint)
            limit = flow.timeout_seconds + 10 if flow.timeout_seconds else default_limit
            return cls(limit, None)
        # The preloaded flow may stand in for the entrypoint only where Prefect's pull steps
        # would do nothing but enter this very folder.
        here = [{"prefect.deployments.steps.set_working_directory": {"directory": os.getcwd()}}]
        preloadable = deployment.pull_steps in (None, [], here)
        limit = job_type.time_limit + 10 if job_type else default_limit  # a batch: its jobs' own
        return cls(limit, entrypoint if preloadable else None)


class WarmWorker:
    """Runs the work pool's due flow runs, most urgent first, in warm forked processes."""

    def __init__(
        self,
        client: PrefectClient,
        pool: str,
        *,
        limit: int = 4,
        poll_seconds: float = 10,
        drain_seconds: float = 60,
        default_time_limit: float = 3600,
        name: str | None = None,
        heartbeat_seconds: float = 10,
        zombie_after: float = 45,
        plan_seconds: float = PLAN_SECONDS,
    ) -> None:
        self.client = client
        self.pool = pool
        self.limit = limit
        self.poll_seconds = poll_seconds
        self.drain_seconds = drain_seconds
        self.default_time_limit = default_time_limit
        self.name = name or f"warm-{socket.gethostname()}"
        self.heartbeat_seconds = heartbeat_seconds
        self.fence_after = zombie_after - heartbeat_seconds
        self.plan_seconds = plan_seconds
        self.context = warm_context()
        self.running: dict[UUID, RunProcess] = {}
        self.held: dict[UUID, FlowRun] = {}  # the runs of ``running``, for their heartbeats
        self.stopping = asyncio.Event()
        self.stop_now = asyncio.Event()
        self._plans: dict[UUID, tuple[LaunchPlan, float]] = {}  # and when it was read
        self._last_heartbeat = 0.0
        self._last_beat = 0.0  # when the runs' heartbeats were last accepted
        self._unreported = False  # a run was claimed since the last heartbeats
        self._last_contact = time.monotonic()  # when a tick last reached the server
        self._last_cancel_check = 0.0
        self.wake = asyncio.Event()  # set by scheduled-run events and by runs that end
        self._next_poll = 0.0  # monotonic time of the next poll for due runs
        self._backlog = False  # the last poll saw more due runs than free slots

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
        listener = asyncio.create_task(wakeup.listen(self.wake))
        watchdog = asyncio.create_task(self._watch_contact())
        log.info("warm worker %s serving pool %r with %d slots", self.name, self.pool, self.limit)
        try:
            while not self.stopping.is_set():
                try:
                    await self.tick()
                    self._last_contact = time.monotonic()
                except Exception as exc:  # the server may be restarting: keep the runs, retry
                    log.warning("could not reach the Prefect server (%s); retrying", exc)
                    self._next_poll = time.monotonic() + 2
                await self._sleep()
        finally:
            listener.cancel()
            watchdog.cancel()
        await self._drain()

    async def tick(self) -> None:
        await self._heartbeat()
        await self._supervise()
        free = self.limit - len(self.running)
        if free > 0 and (self.wake.is_set() or time.monotonic() >= self._next_poll):
            self.wake.clear()
            await self._take(free)
            self._next_poll = time.monotonic() + await self._until_next_due()
        await self._beat()

    async def _sleep(self) -> None:
        """Until woken, stopped, the next poll is due, or (with runs in flight) 0.1 s."""
        timeout = 0.1 if self.running else max(0.0, self._next_poll - time.monotonic())
        waits = [asyncio.ensure_future(e.wait()) for e in (self.wake, self.stopping)]
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waits:
            waiter.cancel()

    async def _until_next_due(self) -> float:
        """Seconds until the pool's earliest scheduled run is due (capped by poll_seconds)."""
        if self._backlog:
            return 0.0 if len(self.running) < self.limit else self.poll_seconds
        earliest = await self.client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
            ),
            work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[self.pool])),
            sort=FlowRunSort.NEXT_SCHEDULED_START_TIME_ASC,
            limit=1,
        )
        due = earliest[0].next_scheduled_start_time if earliest else None
        if due is None:
            return self.poll_seconds
        wait: float = (due - datetime.now(UTC)).total_seconds()
        return min(self.poll_seconds, wait if wait > 0 else 1.0)  # due yet not given: limits

    async def _drain(self) -> None:
        deadline = time.monotonic() + self.drain_seconds
        while self.running and time.monotonic() < deadline and not self.stop_now.is_set():
            await self._supervise()
            await asyncio.sleep(0.2)
        for run in list(self.running.values()):
            run.kill()
            self._release(run.flow_run_id)
            await self._crash(run.flow_run_id, "the worker stopped before the run finished")
        log.info("warm worker %s stopped", self.name)

    # -- taking work -------------------------------------------------------------------------

    async def _take(self, free: int) -> None:
        due = await self.client.get_scheduled_flow_runs_for_work_pool(
            self.pool, scheduled_before=datetime.now(UTC) + timedelta(seconds=0.1)
        )
        launched = 0
        for response in due:
            if len(self.running) >= self.limit or self.stopping.is_set():
                break
            # the poll names the run's pool beside the run, not in it: its heartbeats need it
            flow_run = response.flow_run.model_copy(
                update={"work_pool_id": response.work_pool_id, "work_pool_name": self.pool}
            )
            if flow_run.id not in self.running and await self._claim(flow_run):
                await self._launch(flow_run)
                launched += 1
        self._backlog = launched > 0 and len(due) > launched

    async def _claim(self, flow_run: FlowRun) -> bool:
        claim: State[Any] = Pending(message=f"claimed by worker {self.name}")
        try:
            state = await propose_state(self.client, claim, flow_run_id=flow_run.id)
        except Abort:
            state = None
        # the server answered (an idle worker's last tick may be a poll interval ago)
        self._last_contact = time.monotonic()
        return state is not None and state.is_pending()

    async def _launch(self, flow_run: FlowRun) -> None:
        """Start the claimed run's process; a run that cannot be started is marked Crashed."""
        try:
            plan = await self._plan(flow_run)
            process = RunProcess.start(self.context, flow_run.id, plan.time_limit, plan.entrypoint)
        except Exception as exc:
            log.exception("could not start flow run %s", flow_run.id)
            await self._crash(flow_run.id, f"the worker {self.name} could not start it: {exc!r}")
            return
        self.running[flow_run.id] = process
        self.held[flow_run.id] = flow_run
        self._unreported = True
        log.info("started flow run %s (%s)", flow_run.id, flow_run.name)

    def _release(self, flow_run_id: UUID) -> RunProcess | None:
        """Forget a run this worker no longer supervises."""
        self.held.pop(flow_run_id, None)
        return self.running.pop(flow_run_id, None)

    async def _plan(self, flow_run: FlowRun) -> LaunchPlan:
        """How to run the deployment's flows: read again after ``plan_seconds``."""
        deployment_id = flow_run.deployment_id
        if deployment_id is None:
            return LaunchPlan(self.default_time_limit, None)
        cached = self._plans.get(deployment_id)
        if cached is None or time.monotonic() - cached[1] > self.plan_seconds:
            deployment = await self.client.read_deployment(deployment_id)
            plan = LaunchPlan.of(deployment, self.default_time_limit)
            cached = self._plans[deployment_id] = (plan, time.monotonic())
        return cached[0]

    # -- supervising -------------------------------------------------------------------------

    async def _supervise(self) -> None:
        for run in list(self.running.values()):
            if run.exitcode is not None:
                await self._reap(run)
            elif time.monotonic() > run.deadline:
                run.kill()
                self._release(run.flow_run_id)
                await self._time_out(run)
        await self._cancel_requested()

    async def _reap(self, run: RunProcess) -> None:
        self._release(run.flow_run_id)
        if self._backlog:
            self.wake.set()  # a slot is free and runs are waiting
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
        """Stop runs being cancelled, and runs taken from this worker (crashed or cancelled)."""
        if not self.running or time.monotonic() - self._last_cancel_check < 1:
            return
        self._last_cancel_check = time.monotonic()
        gone = [StateType.CANCELLING, StateType.CANCELLED, StateType.CRASHED]
        ended = await self.client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=list(self.running)),
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=gone)),
            )
        )
        for flow_run in ended:
            run = self._release(flow_run.id)
            if run is None:
                continue
            run.kill()
            if flow_run.state and flow_run.state.type is StateType.CANCELLING:
                await self.client.set_flow_run_state(
                    flow_run.id, Cancelled(message="Cancelled: the worker stopped its process")
                )
            else:
                state = flow_run.state.name if flow_run.state else "?"
                log.warning(
                    "flow run %s is %s elsewhere: its process is stopped", flow_run.id, state
                )

    async def _beat(self) -> None:
        """Report every held run alive: at once for new claims, else every heartbeat interval."""
        due = time.monotonic() - self._last_beat >= self.heartbeat_seconds
        if not self.held or not (due or self._unreported):
            return
        events = [
            heartbeats.heartbeat(flow_run, self.name, self.heartbeat_seconds).model_dump(
                mode="json"
            )
            for flow_run in self.held.values()
        ]
        response = await self.client.request("POST", "/events", json=events)
        response.raise_for_status()
        self._last_beat = time.monotonic()
        self._unreported = False

    async def _watch_contact(self) -> None:
        """Kill the runs once the server has been out of reach too long (see module doc)."""
        while True:
            await asyncio.sleep(1)
            silent = time.monotonic() - self._last_contact
            if self.running and silent > self.fence_after:
                log.warning(
                    "no contact with the Prefect server for %.0f s: stopping %d runs, which the "
                    "recovery service re-runs once their heartbeats are missed",
                    silent,
                    len(self.running),
                )
                for run in list(self.running.values()):
                    run.kill()
                    self._release(run.flow_run_id)

    async def _heartbeat(self) -> None:
        if time.monotonic() - self._last_heartbeat >= 30:
            self._last_heartbeat = time.monotonic()
            await self.client.send_worker_heartbeat(
                self.pool, self.name, heartbeat_interval_seconds=30
            )
