"""The recovery service: no job is stranded by a lost worker, and crashed jobs run again.

Every ``JOBS_RECOVERY_INTERVAL_SECONDS`` it looks at the work pool's jobs:

1. **Lost**: a job claimed (Pending), running or being cancelled whose heartbeats
   (:mod:`jobs.worker.heartbeats`) stopped ``JOBS_ZOMBIE_AFTER_SECONDS`` ago has lost its
   worker (killed, out of memory, host down, cut off). It is marked Crashed, saying which worker
   went silent and when; one being cancelled is marked Cancelled. Either transition releases
   its concurrency slots at once (Prefect releases them when a run leaves Pending/Running).
2. **Crashed** within the last hour, by any cause (lost worker, a run process killed or out of
   memory, a worker stopped before the run finished): the job is scheduled again
   (``AwaitingRetry``) after ``JOBS_RECOVERY_BACKOFF_SECONDS`` * 2^n, as the same job (same id,
   attempts go up), up to its job type's re-run limit. Side effects an earlier attempt made are
   not repeated: the ledger records them. A job that keeps crashing (a poison job) is then
   Failed, named ``TooManyCrashes``, with the reason; an automation alerts on it.

Heartbeats are read from the server's event store, which writes events in batches. The service
judges only as far as the store is known to be current: it sends probe events of its own
through the same path, and a heartbeat counts as missing only up to the newest probe stored.
It also judges nothing until it has itself reached the server for a whole zombie window. So a
lagging event store or a restarted server never makes a live job look lost.

It is a service rather than a Prefect automation because an automation can mark a silent run
Crashed but cannot count a job's re-runs, back off, or give up on a poison job; and it watches
claimed runs, which send no heartbeats of their own under Prefect's engine. Several instances
may run: each change is a state transition the server orchestrates, and a re-run is the same
flow run scheduled again, never a second job.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import LogCreate
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterEndTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
    WorkPoolFilter,
    WorkPoolFilterName,
)
from prefect.client.schemas.objects import FlowRun, State, StateType
from prefect.events import Event
from prefect.events.filters import (
    EventFilter,
    EventNameFilter,
    EventOccurredFilter,
    EventOrder,
    EventResourceFilter,
)
from prefect.states import Cancelled, Crashed, Failed, Scheduled

from jobs import history
from jobs.prefect_api import prefect_client
from jobs.registry import job_type_named_by
from jobs.settings import Settings
from jobs.worker.heartbeats import HEARTBEAT

log = logging.getLogger("jobs.recovery")
PROBE = "jobs.recovery.probe"
RECENT = timedelta(
    hours=1
)  # crashes older than this (e.g. before the service ran) stay as they are
ACTIVE = [StateType.PENDING, StateType.RUNNING, StateType.CANCELLING]
PAGE = 200  # flow runs per read
EVENTS_PAGE = 50  # the most events the server returns per read


async def serve(settings: Settings) -> None:
    """Run the recovery service until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with prefect_client(settings.api_url, settings.server_auth) as client:
        await Recovery(client, settings).run(stop)


@dataclass
class Sweep:
    """What one sweep did: runs judged (old enough, and the event store covered their window),
    those of them marked lost (Crashed or Cancelled), runs re-run, and runs failed."""

    judged: list[UUID] = field(default_factory=list)
    lost: list[UUID] = field(default_factory=list)
    rerun: list[UUID] = field(default_factory=list)
    failed: list[UUID] = field(default_factory=list)


class Recovery:
    """Finds the work pool's lost and crashed jobs and recovers them (see the module doc)."""

    def __init__(self, client: PrefectClient, settings: Settings, name: str | None = None) -> None:
        self.client = client
        self.settings = settings
        self.zombie_after = timedelta(seconds=settings.zombie_after_seconds)
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.contact_since: datetime | None = None  # reached the server ever since

    async def run(self, stop: asyncio.Event) -> None:
        log.info(
            "recovery service %s watching pool %r: lost after %g s without heartbeats",
            self.name,
            self.settings.work_pool,
            self.settings.zombie_after_seconds,
        )
        while not stop.is_set():
            try:
                await self.sweep()
            except Exception as exc:  # the server may be restarting: judge nothing meanwhile
                log.warning("could not reach the Prefect server (%s); retrying", exc)
                self.contact_since = None
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.recovery_interval_seconds)
        log.info("recovery service %s stopped", self.name)

    async def sweep(self) -> Sweep:
        """One look at the pool: lost jobs first, then crashed ones (those just lost too)."""
        now = datetime.now(UTC)
        if self.contact_since is None:
            self.contact_since = now
        done = Sweep()
        active = await self._runs(FlowRunFilter(state=_of(*ACTIVE)))
        if active:
            await self._probe(now)
            judged, lost = await self._lost(active, now)
            done.judged = [run.id for run in judged]
            for run in lost:
                if await self._mark_lost(run, now):
                    done.lost.append(run.id)
        crashed = await self._runs(
            FlowRunFilter(
                state=_of(StateType.CRASHED), end_time=FlowRunFilterEndTime(after_=now - RECENT)
            )
        )
        for run in crashed:
            if run.deployment_id is None:  # only a deployment's runs can be scheduled again
                continue
            if await self._rerun_or_fail(run, datetime.now(UTC)):
                done.rerun.append(run.id)
            else:
                done.failed.append(run.id)
        return done

    # -- lost jobs ---------------------------------------------------------------------------

    async def _runs(self, flow_runs: FlowRunFilter) -> list[FlowRun]:
        pool = WorkPoolFilter(name=WorkPoolFilterName(any_=[self.settings.work_pool]))
        found: list[FlowRun] = []
        while True:
            page = await self.client.read_flow_runs(
                flow_run_filter=flow_runs, work_pool_filter=pool, limit=PAGE, offset=len(found)
            )
            found += page
            if len(page) < PAGE:
                return found

    async def _probe(self, now: datetime) -> None:
        probe = Event(
            occurred=now,
            event=PROBE,
            resource={"prefect.resource.id": f"jobs.recovery.{self.name}"},
        )
        response = await self.client.request(
            "POST", "/events", json=[probe.model_dump(mode="json")]
        )
        response.raise_for_status()

    async def _stored_until(self, now: datetime) -> datetime | None:
        """When the newest of our probes that the event store holds was sent."""
        page = await self.client.read_events(
            filter=EventFilter(
                occurred=EventOccurredFilter(since=now - RECENT, until=now + timedelta(minutes=1)),
                event=EventNameFilter(name=[PROBE]),
                resource=EventResourceFilter(id=[f"jobs.recovery.{self.name}"]),
                order=EventOrder.DESC,
            ),
            limit=1,
        )
        return page.events[0].occurred if page.events else None

    async def _lost(
        self, active: list[FlowRun], now: datetime
    ) -> tuple[list[FlowRun], list[FlowRun]]:
        """The active runs in that state for a whole zombie window the event store covers, and
        those of them without a heartbeat in it."""
        stored_until = await self._stored_until(now)
        if stored_until is None or self.contact_since is None:
            return [], []
        horizon = stored_until - self.zombie_after
        if horizon < self.contact_since:
            return [], []
        old = [run for run in active if run.state and run.state.timestamp < horizon]
        if not old:
            return [], []
        beating = await self._heartbeats({run.id for run in old}, horizon, now)
        return old, [run for run in old if run.id not in beating]

    async def _heartbeats(self, ids: set[UUID], since: datetime, now: datetime) -> set[UUID]:
        """Which of the runs ``ids`` sent a heartbeat since ``since``."""
        page = await self.client.read_events(
            filter=EventFilter(
                occurred=EventOccurredFilter(since=since, until=now + timedelta(minutes=1)),
                event=EventNameFilter(name=[HEARTBEAT]),
                resource=EventResourceFilter(id=[f"prefect.flow-run.{run_id}" for run_id in ids]),
                order=EventOrder.DESC,
            ),
            limit=EVENTS_PAGE,
        )
        seen: set[UUID] = set()
        while True:
            seen |= {_run_id(event) for event in page.events}
            if page.next_page is None or seen >= ids:
                return seen
            page = await self.client.read_events_page(str(page.next_page))

    async def _last_heartbeat(self, run: FlowRun, now: datetime) -> Event | None:
        page = await self.client.read_events(
            filter=EventFilter(
                occurred=EventOccurredFilter(since=now - RECENT, until=now),
                event=EventNameFilter(name=[HEARTBEAT]),
                resource=EventResourceFilter(id=[f"prefect.flow-run.{run.id}"]),
                order=EventOrder.DESC,
            ),
            limit=1,
        )
        return page.events[0] if page.events else None

    async def _mark_lost(self, run: FlowRun, now: datetime) -> bool:
        """Crash (or, when it was being cancelled, cancel) a run whose worker went silent."""
        assert run.state is not None
        beat = await self._last_heartbeat(run, now)
        if beat is not None:
            worker = beat.payload.get("worker", "?")
            silent = (now - beat.occurred).total_seconds()
            reason = (
                f"worker {worker} stopped sending heartbeats: the last came {silent:.0f} s ago "
                f"(at {beat.occurred:%H:%M:%S} UTC)"
            )
        else:
            since = (now - run.state.timestamp).total_seconds()
            reason = (
                f"no worker has reported it alive in the {since:.0f} s since it became "
                f"{run.state.name}: its worker is gone"
            )
        cancelling = run.state.type is StateType.CANCELLING
        state: State[Any] = (
            Cancelled(message=f"Cancelled: {reason}") if cancelling else Crashed(message=reason)
        )
        result = await self.client.set_flow_run_state(run.id, state)
        if result.state is None or result.state.type is not state.type:
            return False  # it changed meanwhile (finished, say): nothing was lost
        await self._note(run.id, f"{'Cancelled' if cancelling else 'Crashed'}: {reason}")
        log.warning("flow run %s (%s) lost: %s", run.id, run.name, reason)
        return True

    # -- crashed jobs ------------------------------------------------------------------------

    async def _rerun_or_fail(self, run: FlowRun, now: datetime) -> bool:
        """Schedule the crashed run again, or fail it once its re-runs are used up (False)."""
        assert run.state is not None
        states = sorted(await self.client.read_flow_run_states(run.id), key=lambda s: s.timestamp)
        done = len(history.recoveries(states, since_manual_retry=True))
        job_type = job_type_named_by(run.tags)
        limit = self.settings.max_reruns(job_type)
        crash = run.state.message or "crashed"
        if done >= limit:
            message = (
                f"crashed {done + 1} times, so it is not re-run again (at most {limit} "
                f"automatic re-runs for {job_type} jobs); the last crash: {crash}"
            )
            await self.client.set_flow_run_state(
                run.id, Failed(name=history.GAVE_UP, message=message), force=True
            )
            await self._note(run.id, f"Failed: {message}")
            log.warning("flow run %s (%s) %s", run.id, run.name, message)
            return False
        delay = timedelta(seconds=self.settings.recovery_backoff_seconds * 2**done)
        due = max(now, run.state.timestamp + delay)
        message = f"{history.RERUN}: re-run {done + 1} of {limit} ({crash})"
        rerun: State[Any] = Scheduled(name="AwaitingRetry", scheduled_time=due, message=message)
        await self.client.set_flow_run_state(run.id, rerun, force=True)
        wait = (due - now).total_seconds()
        await self._note(run.id, f"{message}; due in {wait:.0f} s")
        log.info(
            "flow run %s (%s) re-run %d of %d in %.0f s", run.id, run.name, done + 1, limit, wait
        )
        return True

    async def _note(self, flow_run_id: UUID, message: str) -> None:
        """A line in the run's log, so the UI says what happened to it and why."""
        line = LogCreate(
            name="jobs.recovery",
            level=logging.WARNING,
            message=message,
            timestamp=datetime.now(UTC),
            flow_run_id=flow_run_id,
        )
        await self.client.create_logs([line])


def _of(*types: StateType) -> FlowRunFilterState:
    return FlowRunFilterState(type=FlowRunFilterStateType(any_=list(types)))


def _run_id(event: Event) -> UUID:
    return UUID(event.resource.id.removeprefix("prefect.flow-run."))
