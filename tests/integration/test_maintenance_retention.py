"""Job history retention against the real Prefect server: exactly the runs past the policy go.

The server sets a run's end time from its final state's timestamp, which the API does not let
a client choose; so the runs end now, and the policy is applied as of a later ``now``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from prefect import task
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.actions import LogCreate
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.exceptions import ObjectNotFound
from prefect.states import Cancelled, Completed, Crashed, Failed

from jobs.maintenance.retention import Policy, Pruned, prune
from tests.support.polling import until
from tests.support.runs import finished_run, scratch_deployment

pytestmark = pytest.mark.usefixtures("prefect_server")


async def remaining(client: PrefectClient, deployment_id: UUID) -> set[UUID]:
    runs = await client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
    )
    return {run.id for run in runs}


async def test_old_completed_runs_go_after_a_week_and_failed_ones_after_a_month() -> None:
    async with get_client() as client:
        mine = await scratch_deployment(client, "retention-age")
        other = await scratch_deployment(client, "retention-other")
        completed = [await finished_run(client, mine, Completed()) for _ in range(3)]
        cancelled = await finished_run(client, mine, Cancelled())
        failed = await finished_run(client, mine, Failed())
        crashed = await finished_run(client, mine, Crashed())
        waiting = await client.create_flow_run_from_deployment(mine)
        elsewhere = await finished_run(client, other, Completed())
        policy = Policy(completed_days=7, completed_keep=0, failed_days=30)
        now = datetime.now(UTC)

        in_six_days = await prune(client, policy, now=now + timedelta(days=6), deployments=[mine])
        in_eight_days = await prune(client, policy, now=now + timedelta(days=8), deployments=[mine])
        after_eight_days = await remaining(client, mine)
        in_a_month = await prune(client, policy, now=now + timedelta(days=31), deployments=[mine])

        assert in_six_days == Pruned(completed=0, failed=0)
        assert in_eight_days == Pruned(completed=len(completed) + 1, failed=0)
        assert cancelled.id not in after_eight_days
        assert after_eight_days == {failed.id, crashed.id, waiting.id}
        assert in_a_month == Pruned(completed=0, failed=2)
        assert await remaining(client, mine) == {waiting.id}
        assert await remaining(client, other) == {elsewhere.id}


async def test_only_the_newest_completed_runs_are_kept() -> None:
    async with get_client() as client:
        mine = await scratch_deployment(client, "retention-keep")
        completed = [await finished_run(client, mine, Completed()) for _ in range(5)]
        failed = await finished_run(client, mine, Failed())
        policy = Policy(completed_days=7, completed_keep=2, failed_days=30)

        pruned = await prune(client, policy, deployments=[mine])

        assert pruned == Pruned(completed=3, failed=0)
        assert await remaining(client, mine) == {completed[3].id, completed[4].id, failed.id}


@task
def noop() -> None:
    pass


async def test_a_deleted_run_takes_its_task_runs_and_logs_with_it() -> None:
    async with get_client() as client:
        mine = await scratch_deployment(client, "retention-cascade")
        run = await finished_run(client, mine, Completed())
        task_run = await client.create_task_run(noop, run.id, "0")
        log = LogCreate(
            name="test", level=20, message="hello", timestamp=datetime.now(UTC), flow_run_id=run.id
        )
        await client.create_logs([log])
        logs_of_run = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id]))
        assert len(await client.read_logs(log_filter=logs_of_run)) == 1

        policy = Policy(completed_days=0, completed_keep=0, failed_days=30)
        assert await prune(client, policy, deployments=[mine]) == Pruned(completed=1, failed=0)

        with pytest.raises(ObjectNotFound):
            await client.read_task_run(task_run.id)

        async def logs_gone() -> bool:  # the server deletes them in the background
            return not await client.read_logs(log_filter=logs_of_run)

        await until(logs_gone, 30, "the pruned run's logs are deleted")
