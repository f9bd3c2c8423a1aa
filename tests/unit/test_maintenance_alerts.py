"""The alert automations and the recurring-job names, as declared (no server needed)."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest
from prefect.client.schemas.responses import DeploymentResponse
from prefect.events import AutomationCore, EventTrigger, Posture, RunDeployment
from prefect.events.schemas.events import ResourceSpecification

from deployments import automations
from jobs.errors import JobNotFound
from jobs.recurring import deployment_name
from jobs.registry import JOB_TYPES
from jobs.settings import Settings

SETTINGS = Settings(
    alert_email="oncall@example.com",
    alert_failure_threshold=3,
    alert_window_minutes=5,
    alert_late_minutes=20,
    alert_stuck_grace_minutes=10,
    work_pool="jobs",
)
EMAIL = uuid4()


def action(automation: AutomationCore) -> RunDeployment:
    [first] = automation.actions
    assert isinstance(first, RunDeployment)
    return first


def test_failures_are_counted_per_deployment_of_the_pool_within_the_window() -> None:
    found = automations.failures(SETTINGS, EMAIL)

    trigger = found.trigger
    assert found.name == "jobs: failures"
    assert isinstance(trigger, EventTrigger)
    assert trigger.posture == Posture.Reactive
    assert trigger.expect == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
    assert trigger.for_each == {"related:deployment:prefect.resource.id"}
    assert trigger.threshold == 3
    assert trigger.within == timedelta(minutes=5)
    assert isinstance(trigger.match_related, list)
    pool = {"prefect.resource.role": "work-pool", "prefect.resource.name": "jobs"}
    assert ResourceSpecification.model_validate(pool) in trigger.match_related


def test_the_alert_is_an_email_job_to_the_operator_rendered_from_the_event() -> None:
    alert = action(automations.failures(SETTINGS, EMAIL))

    params = (alert.parameters or {})["params"]
    assert alert.deployment_id == EMAIL
    assert params["to"] == ["oncall@example.com"]
    assert "{{ flow.name }}/{{ deployment.name }}" in params["subject"]
    assert "3 failed runs within 5 min" in params["subject"]
    assert "{{ flow_run.state.message }}" in params["text"]


def test_a_job_late_too_long_raises_an_alert() -> None:
    trigger = automations.late(SETTINGS, EMAIL).trigger

    assert isinstance(trigger, EventTrigger)
    assert trigger.posture == Posture.Proactive
    assert trigger.after == {"prefect.flow-run.Late"}
    assert {"prefect.flow-run.Running", "prefect.flow-run.Pending"} <= trigger.expect
    assert trigger.for_each == {"prefect.resource.id"}
    assert trigger.within == timedelta(minutes=20)


def test_a_job_running_past_its_time_limit_raises_an_alert() -> None:
    email = DeploymentResponse(
        id=uuid4(), name="email", flow_id=uuid4(), entrypoint="flows/mail.py:send_email", labels={}
    )

    found = automations.stuck(SETTINGS, EMAIL, JOB_TYPES["email"], email)

    trigger = found.trigger
    assert found.name == "jobs: email stuck"
    assert isinstance(trigger, EventTrigger)
    assert trigger.after == {"prefect.flow-run.Running", "prefect.flow-run.Retrying"}
    assert "prefect.flow-run.Completed" in trigger.expect
    assert trigger.within == timedelta(seconds=900, minutes=10)  # send-email's timeout + grace


def test_recurring_jobs_are_named_by_job_type_or_fulldeployment_name() -> None:
    assert deployment_name("retention") == "prune-job-history/retention"
    assert deployment_name("weekly-report/report") == "weekly-report/report"
    with pytest.raises(JobNotFound, match="no recurring job 'nightly'"):
        deployment_name("nightly")


def test_a_job_given_up_after_crashing_raises_an_alert() -> None:
    automation = automations.crash_loop(SETTINGS, EMAIL)
    trigger = automation.trigger

    assert automation.name == "jobs: crash loop"
    assert isinstance(trigger, EventTrigger)
    assert trigger.posture == Posture.Reactive
    assert trigger.expect == {"prefect.flow-run.TooManyCrashes"}
    assert trigger.threshold == 1
    pool = {"prefect.resource.name": [SETTINGS.work_pool], "prefect.resource.role": ["work-pool"]}
    assert pool in [dict(spec.items()) for spec in trigger.match_related]
