"""The alert automations on the real server: created once, updated in place, stale ones gone."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from prefect.client.orchestration import PrefectClient, get_client
from prefect.events import EventTrigger, RunDeployment
from prefect.events.schemas.automations import Automation

from deployments import automations
from jobs.registry import JOB_TYPES
from jobs.settings import Settings
from tests.support.stack import Stack


@pytest.fixture
async def prefect(prefect_server: Stack) -> AsyncIterator[PrefectClient]:
    """A client of the session's server, with the job types deployed; no ``jobs: `` automation
    is left behind (later tests must not get alert emails)."""
    prefect_server.deploy()
    async with get_client() as client:
        yield client
        for automation in await client.read_automations():
            if automation.name.startswith(automations.PREFIX):
                await client.delete_automation(automation.id)


async def ours(client: PrefectClient) -> dict[str, list[Automation]]:
    found: dict[str, list[Automation]] = {}
    for automation in await client.read_automations():
        if automation.name.startswith(automations.PREFIX):
            found.setdefault(automation.name, []).append(automation)
    return found


async def test_applying_twice_leaves_one_automation_of_each_kind(
    prefect: PrefectClient, settings: Settings
) -> None:
    strict = settings.model_copy(update={"alert_failure_threshold": 2})
    names = await automations.apply(prefect, settings)
    first = {name: [a.id for a in found] for name, found in (await ours(prefect)).items()}

    again = await automations.apply(prefect, strict)
    second = await ours(prefect)

    expected = {"jobs: failures", "jobs: batched failures", "jobs: late", "jobs: crash loop"}
    expected |= {f"jobs: {t} stuck" for t in JOB_TYPES}
    assert set(names) == set(again) == expected
    assert {name: [a.id for a in found] for name, found in second.items()} == first
    [failures] = second["jobs: failures"]
    assert isinstance(failures.trigger, EventTrigger)
    assert failures.trigger.threshold == 2  # updated in place


async def test_the_alert_runs_the_deployed_email_job(
    prefect: PrefectClient, settings: Settings
) -> None:
    await automations.apply(prefect, settings)
    email = await prefect.read_deployment_by_name("send-email/email")

    [failures] = await prefect.read_automations_by_name("jobs: failures")
    [stuck] = await prefect.read_automations_by_name("jobs: newsletter stuck")

    [action] = failures.actions
    assert isinstance(action, RunDeployment)
    assert action.deployment_id == email.id
    assert (action.parameters or {})["params"]["to"] == [settings.alert_email]
    assert isinstance(stuck.trigger, EventTrigger)
    assert stuck.trigger.within.total_seconds() == 6 * 3600 + 15 * 60  # 6 h limit + grace


async def test_automations_no_longer_declared_are_removed(
    prefect: PrefectClient, settings: Settings
) -> None:
    [kept] = (await automations.declared(prefect, settings))[:1]
    obsolete = kept.model_copy(update={"name": "jobs: obsolete"})
    await prefect.create_automation(obsolete)
    other = kept.model_copy(update={"name": "someone else's"})
    other_id = await prefect.create_automation(other)

    await automations.apply(prefect, settings)

    assert "jobs: obsolete" not in await ours(prefect)
    assert await prefect.read_automation(other_id) is not None
    await prefect.delete_automation(other_id)
