"""Outgoing HTTP jobs: deliver a signed webhook, or make one call to an external API."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from jobs import titles
from jobs.outbound import api, webhook
from jobs.outbound import titles as outbound_titles
from jobs.outbound.params import ApiCall, DeliverWebhook
from jobs.policy import retrying_task
from jobs.progress import Progress
from jobs.registry import JOB_TYPES

WEBHOOK = JOB_TYPES["webhook"]
API_CALL = JOB_TYPES["api_call"]


@retrying_task(
    retries=WEBHOOK.retries,
    timeout_seconds=300,
    name="deliver-webhook",
    task_run_name=titles.task_run_namer("deliver-webhook", DeliverWebhook, outbound_titles.webhook),
)
def deliver(params: DeliverWebhook, job_id: str) -> str:
    return webhook.deliver(params, job_id)


@retrying_task(
    retries=API_CALL.retries,
    timeout_seconds=300,
    name="call-api",
    task_run_name=titles.task_run_namer("call-api", ApiCall, outbound_titles.api_call),
)
def call(params: ApiCall, job_id: str) -> dict[str, Any]:
    return api.call(params, job_id)


@flow(
    name=WEBHOOK.flow,
    timeout_seconds=WEBHOOK.time_limit,
    flow_run_name=titles.flow_run_namer("webhook", DeliverWebhook, outbound_titles.webhook),
)
def deliver_webhook(params: DeliverWebhook) -> str:
    """Deliver one signed event; retried on network errors, 408, 429 and 5xx."""
    progress = Progress.start(f"Delivering {params.event!r}")
    outcome = deliver(params, str(flow_run.id))
    progress.update(100, outcome)
    return outcome


@flow(
    name=API_CALL.flow,
    timeout_seconds=API_CALL.time_limit,
    flow_run_name=titles.flow_run_namer("api_call", ApiCall, outbound_titles.api_call),
)
def call_api(params: ApiCall) -> dict[str, Any]:
    """Make one API call; returns its status and (size-limited) response body."""
    progress = Progress.start(f"{params.method} {titles.where(params.url)}")
    result = call(params, str(flow_run.id))
    progress.update(100, f"HTTP {result['status']}")
    return result
