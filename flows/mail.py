"""Email jobs: one message, or one message to a list of recipients (newsletter)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from prefect import flow
from prefect.artifacts import create_table_artifact
from prefect.runtime import flow_run

from jobs import titles
from jobs.email import send
from jobs.email import titles as email_titles
from jobs.email.params import Recipient, SendEmail, SendNewsletter
from jobs.policy import retrying_task
from jobs.progress import Progress
from jobs.registry import JOB_TYPES

EMAIL = JOB_TYPES["email"]
NEWSLETTER = JOB_TYPES["newsletter"]


@titles.task_run_name
def _chunk_name(parameters: dict[str, Any]) -> str:
    return titles.safely(
        "send-newsletter-chunk", lambda: email_titles.chunk(parameters["recipients"])
    )


@retrying_task(
    retries=EMAIL.retries,
    timeout_seconds=120,
    name="send-email",
    task_run_name=titles.task_run_namer("send-email", SendEmail, email_titles.email),
)
def send_message(params: SendEmail, key: str, job_id: str) -> str:
    return send.send_email(params, key, job_id)


@retrying_task(
    retries=NEWSLETTER.retries,
    timeout_seconds=600,
    name="send-newsletter-chunk",
    task_run_name=_chunk_name,
)
def send_chunk(
    params: SendNewsletter, recipients: list[Recipient], campaign: str, job_id: str
) -> dict[str, int]:
    return dict(send.send_newsletter_chunk(params, recipients, campaign, job_id))


@flow(
    name=EMAIL.flow,
    timeout_seconds=EMAIL.time_limit,
    flow_run_name=titles.flow_run_namer("email", SendEmail, email_titles.email),
)
def send_email(params: SendEmail) -> str:
    """Send one email, at most once per message key."""
    progress = Progress.start(f"Sending {params.subject!r}")
    job_id = str(flow_run.id)
    outcome = send_message(params, params.message_key or job_id, job_id)
    progress.update(100, outcome)
    return outcome


@flow(
    name=NEWSLETTER.flow,
    timeout_seconds=NEWSLETTER.time_limit,
    flow_run_name=titles.flow_run_namer("newsletter", SendNewsletter, email_titles.newsletter),
)
def send_newsletter(params: SendNewsletter) -> dict[str, int]:
    """Send one message to each recipient in chunks; a retry skips those already sent."""
    job_id = str(flow_run.id)
    campaign = params.campaign_key or job_id
    progress = Progress.start(f"Sending {params.subject!r} to {len(params.recipients)}")
    totals: Counter[str] = Counter()
    for start in range(0, len(params.recipients), params.chunk_size):
        chunk = params.recipients[start : start + params.chunk_size]
        totals.update(send_chunk(params, chunk, campaign, job_id))
        progress.update(100 * totals.total() / len(params.recipients), _summary(totals))
    create_table_artifact([{"outcome": k, "recipients": v} for k, v in sorted(totals.items())])
    send.check_newsletter_outcome(totals)
    return dict(totals)


def _summary(totals: Counter[str]) -> str:
    return ", ".join(f"{count} {outcome}" for outcome, count in sorted(totals.items()))
