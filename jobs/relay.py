"""The relay: moves committed jobs from the outbox (:mod:`jobs.outbox`) to Prefect.

Each round it takes the due jobs, urgent first and round-robin across fairness keys within a
priority, packs the batched lane's into batch flow runs of one job type and priority (up to
``batch_size`` each; a lone job waits ``batch_linger_ms`` for company) and gives each
flow-lane job its own flow run. A job type has at most ``batch_max_in_flight`` batches handed
out and unfinished: the backlog waits in the outbox, where priority and fairness still order
it, not in Prefect's queues.

Handing over is crash-safe: the jobs are marked ``assigned`` to a batch id in one
transaction, then the flow run is created with that id as its idempotency key, then the jobs
are marked ``dispatched``. A relay that dies in between finds the assigned jobs on its next
round and creates their flow run again, which Prefect answers with the run it already has.

The relay also settles jobs whose batch run ended without them (cancelled from the UI, or
failed for good after crash re-runs), so nothing waits for a run that will not come back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Sequence
from datetime import timedelta
from uuid import UUID, uuid4

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import DeploymentFlowRunCreate
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import StateType
from prefect.states import Scheduled, to_state_create
from sqlalchemy import select

from jobs import creation, outbox, registry
from jobs.db.engine import session
from jobs.db.models import QueuedJob, QueueState, utcnow
from jobs.prefect_api import prefect_client
from jobs.settings import Settings, get_settings
from jobs.status import Lane

log = logging.getLogger("jobs.relay")
SETTLE_SECONDS = 5.0
"""How often the relay looks for jobs whose batch run ended without running them."""


class Relay:
    """One relay process's state: the deployments it has looked up, its settings."""

    def __init__(self, client: PrefectClient, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self._deployments: dict[str, UUID] = {}
        self._stopping = asyncio.Event()
        self._settled_at = 0.0

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Relay until stopped; a round that fails (server or database away) is tried again."""
        poll = self.settings.relay_poll_ms / 1000
        log.info("relay started (batches of up to %d)", self.settings.batch_size)
        while not self._stopping.is_set():
            try:
                moved = await self.round()
                if time.monotonic() - self._settled_at > SETTLE_SECONDS:
                    await self.settle()
                    self._settled_at = time.monotonic()
            except Exception:
                log.exception("relay round failed; trying again")
                moved = 0
                await asyncio.sleep(1)
            if not moved:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), poll)
        log.info("relay stopped")

    async def round(self) -> int:
        """One round: finish any earlier hand-over, then pack and hand over due jobs. How
        many jobs were handed over."""
        moved = await self.hand_over()
        packed = self.pack()
        if packed is None:  # a lone job lingers for company
            await asyncio.sleep(self.settings.batch_linger_ms / 1000)
            packed = self.pack(linger=False)
        if packed:
            moved += await self.hand_over()
        return moved

    # -- packing -------------------------------------------------------------------------------

    def pack(self, *, linger: bool = True) -> int | None:
        """Assign due jobs to batches (or their own runs); how many batches. None: there are
        due jobs, but too few and too young, so wait ``batch_linger_ms`` first."""
        size = self.settings.batch_size
        now = utcnow()
        with session(self.settings.app_database_url) as db, db.begin():
            in_flight = outbox.batches_in_flight(db)
            free = {
                name: self.settings.batch_max_in_flight - in_flight[name]
                for name in registry.JOB_TYPES
            }
            types = [name for name, room in free.items() if room > 0]
            if not types:
                return 0
            rows = outbox.due(db, now, types, size * max(free.values()))
            if not rows:
                return 0
            if linger and len(rows) < size:
                youngest = max(max(outbox.aware(row.created_at), outbox.aware(row.run_at))
                               for row in rows)  # fmt: skip
                if now - youngest < timedelta(milliseconds=self.settings.batch_linger_ms):
                    return None
            batches = 0
            for group in _groups(rows, size):
                if group[0].lane == Lane.BATCH:
                    if free[group[0].job_type] <= 0:
                        continue
                    free[group[0].job_type] -= 1
                batches += bool(outbox.assign(db, [row.id for row in group], str(uuid4())))
            return batches

    # -- handing over ------------------------------------------------------------------------

    async def hand_over(self) -> int:
        """Create the flow run of every assigned batch (again, after a crash: the batch id is
        the run's idempotency key) and mark its jobs dispatched."""
        with session(self.settings.app_database_url) as db:
            assigned = outbox.assigned(db)
        moved = 0
        for batch_id, rows in assigned.items():
            run_id = await self.create_run(batch_id, rows)
            with session(self.settings.app_database_url) as db, db.begin():
                outbox.dispatched(db, batch_id, str(run_id))
            moved += len(rows)
        return moved

    async def create_run(self, batch_id: str, rows: Sequence[QueuedJob]) -> UUID:
        first = rows[0]
        spec = registry.job_type(first.job_type)
        queue = registry.queue_for(first.priority)
        if first.lane == Lane.FLOW:
            tags = sorted({*first.tags, f"job:{spec.name}"})
            key = first.idempotency_key or f"outbox-{first.id}"
            create = creation.run_create(first.params, key, None, tags, queue)
            deployment_id = await self._deployment(spec.deployment_name)
            [run_id] = await creation.create_runs(self.client, deployment_id, [create], 1)
            return run_id
        create = DeploymentFlowRunCreate(
            name=f"{spec.name} batch of {len(rows)}",
            parameters={"job_type": spec.name, "batch": batch_id},
            state=to_state_create(Scheduled()),
            idempotency_key=f"batch-{batch_id}",
            tags=sorted({*spec.tags, "batch", f"job:{spec.name}"}),
            work_queue_name=queue,
        )
        deployment_id = await self._deployment(spec.batch_deployment_name)
        [run_id] = await creation.create_runs(self.client, deployment_id, [create], 1)
        return run_id

    async def _deployment(self, name: str) -> UUID:
        if name not in self._deployments:
            self._deployments[name] = (await self.client.read_deployment_by_name(name)).id
        return self._deployments[name]

    # -- settling ----------------------------------------------------------------------------

    async def settle(self) -> int:
        """Jobs still unfinished whose batch run ended for good: cancelled ones (the run was
        cancelled) or failed ones, with the run's reason. How many were settled."""
        with session(self.settings.app_database_url) as db:
            run_ids = set(
                db.scalars(
                    select(QueuedJob.run_id).where(
                        QueuedJob.lane == Lane.BATCH,
                        QueuedJob.state.in_([QueueState.DISPATCHED, QueueState.RUNNING]),
                        QueuedJob.run_id.is_not(None),
                    )
                )
            )
        if not run_ids:
            return 0
        runs = await self.client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(r) for r in run_ids]))
        )
        settled = 0
        for run in runs:
            state = run.state
            if state is None or state.type not in _GONE:
                continue
            if state.type is StateType.CANCELLED:
                outcome = QueueState.CANCELLED
                reason = f"its batch run was cancelled: {state.message}"
            else:
                outcome = QueueState.FAILED
                reason = f"its batch run ended {state.name}: {state.message}"
            settled += outbox.abandon(str(run.id), outcome, reason, self.settings.app_database_url)
        return settled


_GONE = {StateType.CANCELLED, StateType.FAILED, StateType.COMPLETED}
"""Batch run states no job of the batch comes back from (Crashed runs are re-run)."""


def _groups(rows: Sequence[QueuedJob], size: int) -> list[list[QueuedJob]]:
    """Rows in hand-over groups, in the order given: batched jobs by (type, priority) in
    chunks of ``size``; each flow-lane job alone."""
    groups: list[list[QueuedJob]] = []
    open_groups: dict[tuple[str, int], list[QueuedJob]] = {}
    for row in rows:
        if row.lane == Lane.FLOW:
            groups.append([row])
            continue
        key = (row.job_type, row.priority)
        group = open_groups.get(key)
        if group is None or len(group) >= size:
            group = open_groups[key] = []
            groups.append(group)
        group.append(row)
    return groups


async def serve(settings: Settings | None = None) -> None:
    """Run the relay until SIGTERM or SIGINT."""
    settings = settings or get_settings()
    async with prefect_client(settings.api_url, settings.server_auth) as client:
        relay = Relay(client, settings)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, relay.stop)
        await relay.run()
