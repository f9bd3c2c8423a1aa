"""Job history retention: old finished top-level flow runs are deleted from the Prefect server.

Completed (and cancelled) runs go once older than ``completed_days`` or once ``completed_keep``
newer ones of their deployment (job type) exist; failed and crashed runs go once older than
``failed_days``. Age is measured from the run's end. Deleting a flow run deletes its task runs
with it; the server deletes its logs in the background and its artifacts with its daily orphan
vacuum (``PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED`` includes ``orphans``, jobs/services.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterEndTime,
    FlowRunFilterId,
    FlowRunFilterParentTaskRunId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import FlowRunSort

from jobs.settings import Settings

COMPLETED = [StateType.COMPLETED, StateType.CANCELLED]
FAILED = [StateType.FAILED, StateType.CRASHED]
BATCH = 50  # the most the server deletes per bulk_delete request
PAGE = 200


@dataclass(frozen=True)
class Policy:
    """How long finished job runs are kept."""

    completed_days: float
    completed_keep: int  # 0: no count limit
    failed_days: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            settings.retention_completed_days,
            settings.retention_completed_keep,
            settings.retention_failed_days,
        )


@dataclass
class Pruned:
    """How many runs one pass deleted."""

    completed: int = 0
    failed: int = 0


def finished(
    types: list[StateType], ended_before: datetime, deployments: list[UUID] | None
) -> FlowRunFilter:
    """Top-level runs in one of ``types`` that ended at or before ``ended_before``."""
    return FlowRunFilter(
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=types)),
        end_time=FlowRunFilterEndTime(before_=ended_before),
        parent_task_run_id=FlowRunFilterParentTaskRunId(is_null_=True),
        deployment_id=None if deployments is None else FlowRunFilterDeploymentId(any_=deployments),
    )


async def delete_matching(client: PrefectClient, flow_runs: FlowRunFilter) -> int:
    """Delete every run ``flow_runs`` matches, a batch per request; how many went."""
    body = {"flow_runs": flow_runs.model_dump(mode="json", exclude_unset=True), "limit": BATCH}
    total = 0
    while True:
        response = await client.request("POST", "/flow_runs/bulk_delete", json=body)  # type: ignore[arg-type]
        deleted = len(response.json()["deleted"])
        total += deleted
        if deleted < BATCH:
            return total


async def _deployment_ids(client: PrefectClient) -> list[UUID]:
    found: list[UUID] = []
    while page := await client.read_deployments(limit=PAGE, offset=len(found)):
        found += [deployment.id for deployment in page]
        if len(page) < PAGE:
            break
    return found


async def _beyond_newest(
    client: PrefectClient, deployment_id: UUID, keep: int, now: datetime
) -> int:
    """Delete the deployment's completed runs that have ``keep`` newer ones."""
    flow_runs = finished(COMPLETED, now, [deployment_id])
    total = 0
    while older := await client.read_flow_runs(
        flow_run_filter=flow_runs, sort=FlowRunSort.END_TIME_DESC, offset=keep, limit=BATCH
    ):
        chosen = FlowRunFilter(id=FlowRunFilterId(any_=[run.id for run in older]))
        total += await delete_matching(client, chosen)
    return total


async def prune(
    client: PrefectClient,
    policy: Policy,
    *,
    now: datetime | None = None,
    deployments: list[UUID] | None = None,
) -> Pruned:
    """Apply ``policy`` as of ``now``, to all runs or to those of ``deployments``."""
    now = now or datetime.now(UTC)
    pruned = Pruned()
    completed_before = now - timedelta(days=policy.completed_days)
    failed_before = now - timedelta(days=policy.failed_days)
    pruned.completed += await delete_matching(
        client, finished(COMPLETED, completed_before, deployments)
    )
    pruned.failed += await delete_matching(client, finished(FAILED, failed_before, deployments))
    if policy.completed_keep > 0:
        for deployment_id in deployments or await _deployment_ids(client):
            pruned.completed += await _beyond_newest(
                client, deployment_id, policy.completed_keep, now
            )
    return pruned
