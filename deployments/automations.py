"""Monitoring as code: Prefect automations that email the operator, through an ``email`` job.

- ``jobs: failures`` — a job type (deployment) of the work pool has ``alert_failure_threshold``
  failed or crashed runs within ``alert_window_minutes`` (counted per deployment);
- ``jobs: batched failures`` — the same for batched jobs (task runs of a job type's
  ``run-batch`` deployment): ``alert_failure_threshold`` failed or timed-out jobs within
  ``alert_window_minutes``;
- ``jobs: late`` — a job of the pool stays Late (due, but no worker took it) for
  ``alert_late_minutes``;
- ``jobs: <job type> stuck`` — a job is still running ``alert_stuck_grace_minutes`` past its
  time limit (the catalogue's, which is its flow's ``timeout_seconds``);
- ``jobs: crash loop`` — the recovery service gave up on a job that kept crashing (a poison
  job: Failed, named ``TooManyCrashes``, after its automatic re-runs).

Each is created or updated by name, and automations named ``jobs: ...`` that are no longer
declared are deleted, so applying again changes nothing. The alert is a ``RunDeployment`` of
``send-email/email`` whose subject and text are Jinja templates Prefect renders from the event.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.responses import DeploymentResponse
from prefect.events import AutomationCore, EventTrigger, Posture, RunDeployment
from prefect.exceptions import ObjectNotFound

from jobs.history import GAVE_UP
from jobs.registry import BATCH_FLOW, JOB_TYPES, JobType, job_type
from jobs.settings import Settings

log = logging.getLogger(__name__)
PREFIX = "jobs: "
FINAL = ("Completed", "Failed", "Crashed", "Cancelled")
WHICH = "{{ flow.name }}/{{ deployment.name }}"
RUN = "{{ flow_run.name }} ({{ flow_run.state.name }}: {{ flow_run.state.message }})"


def flow_run_events(*states: str) -> set[str]:
    return {f"prefect.flow-run.{state}" for state in states}


def alert(settings: Settings, email: UUID, subject: str, text: str) -> RunDeployment:
    """Send ``subject`` and ``text`` (Jinja templates) to the operator as an email job."""
    params = {"to": [settings.alert_email], "subject": subject, "text": text}
    return RunDeployment(source="selected", deployment_id=email, parameters={"params": params})


def automation(
    settings: Settings, email: UUID, name: str, trigger: EventTrigger, subject: str, text: str
) -> AutomationCore:
    """The automation ``jobs: <name>``: on ``trigger``, email the operator."""
    return AutomationCore(
        name=f"{PREFIX}{name}",
        description=f"Email {settings.alert_email}: {subject}",
        enabled=True,
        trigger=trigger,
        actions=[alert(settings, email, subject, text)],
    )


def in_pool(settings: Settings, deployment: UUID | None = None) -> list[dict[str, Any]]:
    """Related-resource filters: runs of a deployment (or of this one) in the work pool."""
    of_deployment = {"prefect.resource.role": "deployment"}
    if deployment is not None:
        of_deployment["prefect.resource.id"] = f"prefect.deployment.{deployment}"
    pool = {"prefect.resource.role": "work-pool", "prefect.resource.name": settings.work_pool}
    return [of_deployment, pool]


def failures(settings: Settings, email: UUID) -> AutomationCore:
    count, minutes = settings.alert_failure_threshold, settings.alert_window_minutes
    trigger = EventTrigger(
        posture=Posture.Reactive,
        expect=flow_run_events("Failed", "Crashed"),
        match={"prefect.resource.id": "prefect.flow-run.*"},
        match_related=in_pool(settings),
        for_each={"related:deployment:prefect.resource.id"},
        threshold=count,
        within=timedelta(minutes=minutes),
    )
    subject = f"[jobs alert] {WHICH}: {count} failed runs within {minutes:g} min"
    text = (
        f"Jobs of {WHICH} failed or crashed {count} times within {minutes:g} minutes.\n\n"
        f"Latest: {RUN}\n\n{settings.ui_url}/deployments/deployment/{{{{ deployment.id }}}}\n"
    )
    return automation(settings, email, "failures", trigger, subject, text)


def batched_failures(settings: Settings, email: UUID) -> AutomationCore:
    count, minutes = settings.alert_failure_threshold, settings.alert_window_minutes
    of_batches = {"prefect.resource.role": "flow", "prefect.resource.name": BATCH_FLOW}
    trigger = EventTrigger(
        posture=Posture.Reactive,
        expect={"prefect.task-run.Failed", "prefect.task-run.TimedOut"},  # after any retries
        match={"prefect.resource.id": "prefect.task-run.*"},
        match_related=[*in_pool(settings), of_batches],
        for_each={"related:deployment:prefect.resource.id"},
        threshold=count,
        within=timedelta(minutes=minutes),
    )
    job = (
        "{{ event.resource['prefect.resource.name'] }} "
        "({{ event.resource['prefect.state-name'] }}: "
        "{{ event.resource['prefect.state-message'] }})"
    )
    subject = f"[jobs alert] {WHICH}: {count} failed jobs within {minutes:g} min"
    text = (
        f"Batched jobs of {WHICH} failed {count} times within {minutes:g} minutes.\n\n"
        f"Latest: {job}\n\n{settings.ui_url}/deployments/deployment/{{{{ deployment.id }}}}\n"
    )
    return automation(settings, email, "batched failures", trigger, subject, text)


def late(settings: Settings, email: UUID) -> AutomationCore:
    minutes = settings.alert_late_minutes
    trigger = EventTrigger(
        posture=Posture.Proactive,
        after=flow_run_events("Late"),
        expect=flow_run_events("Pending", "Running", "Cancelling", *FINAL),
        match={"prefect.resource.id": "prefect.flow-run.*"},
        match_related=in_pool(settings),
        for_each={"prefect.resource.id"},
        threshold=1,
        within=timedelta(minutes=minutes),
    )
    subject = f"[jobs alert] {WHICH}: a job waits for a worker for {minutes:g} min"
    text = (
        f"Job {RUN} of {WHICH} was due at {{{{ flow_run.expected_start_time }}}} and no worker "
        f"has picked it up for {minutes:g} minutes. Is a worker running on the work pool "
        f"{settings.work_pool!r}?\n\n{settings.ui_url}/runs/flow-run/{{{{ flow_run.id }}}}\n"
    )
    return automation(settings, email, "late", trigger, subject, text)


def crash_loop(settings: Settings, email: UUID) -> AutomationCore:
    trigger = EventTrigger(
        posture=Posture.Reactive,
        expect=flow_run_events(GAVE_UP),
        match={"prefect.resource.id": "prefect.flow-run.*"},
        match_related=in_pool(settings),
        for_each={"prefect.resource.id"},
        threshold=1,
        within=timedelta(0),
    )
    subject = f"[jobs alert] {WHICH}: a job keeps crashing and is not re-run again"
    text = (
        f"Job {RUN} of {WHICH} crashed on every automatic re-run and was failed. It may crash "
        f"its worker (out of memory, a crash in native code): look at its logs before "
        f"retrying it.\n\n{settings.ui_url}/runs/flow-run/{{{{ flow_run.id }}}}\n"
    )
    return automation(settings, email, "crash loop", trigger, subject, text)


def stuck(
    settings: Settings, email: UUID, spec: JobType, deployment: DeploymentResponse
) -> AutomationCore:
    limit = spec.time_limit
    within = timedelta(seconds=limit, minutes=settings.alert_stuck_grace_minutes)
    minutes = within.total_seconds() / 60
    trigger = EventTrigger(
        posture=Posture.Proactive,
        after=flow_run_events("Running", "Retrying"),
        expect=flow_run_events("AwaitingRetry", "Paused", "Suspended", "Cancelling", *FINAL),
        match={"prefect.resource.id": "prefect.flow-run.*"},
        match_related=in_pool(settings, deployment.id),
        for_each={"prefect.resource.id"},
        threshold=1,
        within=within,
    )
    subject = f"[jobs alert] {WHICH}: a job is still running after {minutes:g} min"
    text = (
        f"Job {RUN} of {WHICH} started at {{{{ flow_run.start_time }}}} and is still "
        f"running, {settings.alert_stuck_grace_minutes:g} minutes past its time limit of "
        f"{limit / 60:g} min. Is its worker alive?\n\n"
        f"{settings.ui_url}/runs/flow-run/{{{{ flow_run.id }}}}\n"
    )
    return automation(settings, email, f"{spec.name} stuck", trigger, subject, text)


async def _deployed(client: PrefectClient, deployment_name: str) -> DeploymentResponse | None:
    try:
        return await client.read_deployment_by_name(deployment_name)
    except ObjectNotFound:
        return None


async def declared(client: PrefectClient, settings: Settings) -> list[AutomationCore]:
    """The automations for what is deployed now; none while the email job is not deployed."""
    email = await _deployed(client, job_type("email").deployment_name)
    if email is None:
        return []
    found = [
        failures(settings, email.id),
        batched_failures(settings, email.id),
        late(settings, email.id),
        crash_loop(settings, email.id),
    ]
    for spec in JOB_TYPES.values():
        if deployment := await _deployed(client, spec.deployment_name):
            found.append(stuck(settings, email.id, spec, deployment))
    return found


async def upsert(client: PrefectClient, automation: AutomationCore) -> UUID:
    """Create the automation, or update the one of that name (and drop duplicates)."""
    existing = await client.read_automations_by_name(automation.name)
    if not existing:
        return await client.create_automation(automation)
    first, *duplicates = existing
    await client.update_automation(first.id, automation)
    for duplicate in duplicates:
        await client.delete_automation(duplicate.id)
    return first.id


async def apply(client: PrefectClient, settings: Settings) -> list[str]:
    """Make the server's ``jobs: ...`` automations the declared ones; their names."""
    wanted = await declared(client, settings)
    if not wanted:
        log.info("alert automations wait for the email job to be deployed; setup applies them then")
        return []
    for automation in wanted:
        await upsert(client, automation)
    names = {automation.name for automation in wanted}
    for stale in await client.read_automations():
        if stale.name.startswith(PREFIX) and stale.name not in names:
            await client.delete_automation(stale.id)
    return sorted(names)
