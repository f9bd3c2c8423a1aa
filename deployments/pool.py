"""Create or update the work pool and its work queues (one per job priority), idempotently."""

from __future__ import annotations

from dataclasses import dataclass

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from deployments import automations, limits
from jobs.registry import PRIORITIES, queue_for
from jobs.settings import Settings


@dataclass(frozen=True)
class QueueSpec:
    """A work queue: its Prefect priority (1 runs first) and its concurrency limit."""

    name: str
    priority: int
    concurrency_limit: int | None = None
    description: str = ""


QUEUE_LIMITS = {10: 2}  # low-priority bulk work never takes more than two slots at once
QUEUES = [
    QueueSpec(
        queue_for(p),
        priority=p,
        concurrency_limit=QUEUE_LIMITS.get(p),
        description=f"Jobs submitted with priority {p} (1 = urgent, 5 = normal, 10 = low)",
    )
    for p in PRIORITIES
]


async def apply(client: PrefectClient, settings: Settings) -> None:
    """Make the pool and its queues look as declared here, then the limits and automations."""
    await apply_queues(client, settings.work_pool)
    await limits.apply(client, settings)
    await automations.apply(client, settings)


async def apply_queues(client: PrefectClient, pool: str) -> None:
    """Make the work pool ``pool`` and its priority queues look as declared here."""
    await _ensure_pool(client, pool)
    for spec in QUEUES:
        await _ensure_queue(client, pool, spec)


async def _ensure_pool(client: PrefectClient, name: str) -> None:
    try:
        await client.create_work_pool(
            WorkPoolCreate(name=name, type="process", description="Background jobs")
        )
    except ObjectAlreadyExists:
        await client.update_work_pool(name, WorkPoolUpdate(is_paused=False))


async def _ensure_queue(client: PrefectClient, pool: str, spec: QueueSpec) -> None:
    try:
        queue = await client.read_work_queue_by_name(spec.name, work_pool_name=pool)
    except ObjectNotFound:
        await client.create_work_queue(
            spec.name,
            description=spec.description,
            work_pool_name=pool,
            priority=spec.priority,
            concurrency_limit=spec.concurrency_limit,
        )
        return
    await client.update_work_queue(
        queue.id,
        priority=spec.priority,
        concurrency_limit=spec.concurrency_limit,
        description=spec.description,
        is_paused=False,
    )
