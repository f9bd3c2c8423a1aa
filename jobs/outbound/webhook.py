"""The webhook job's work: sign one event and POST it to its endpoint.

Deliveries are at least once: each attempt is signed afresh, and carries the same
``X-Webhook-Id`` so receivers can drop repeats. A delivery that succeeded is marked done in
the side-effect ledger, so running its job again does not send it again.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobs import ledger, runlog
from jobs.db.engine import session
from jobs.db.models import EffectStatus, WebhookEndpoint
from jobs.errors import PermanentJobError
from jobs.outbound import guard, limits, signing
from jobs.outbound.attempts import Caller
from jobs.outbound.params import DeliverWebhook
from jobs.outbound.secrets import secret_value
from jobs.outbound.send import perform
from jobs.outbound.transport import Outgoing, Throttle

KIND = "webhook"
USER_AGENT = "jobs-webhooks/1"


@dataclass(frozen=True)
class Destination:
    """Where a delivery goes and what it is signed with (the secret never leaves the job)."""

    url: str
    secret: str
    endpoint_id: int | None = None


def deliver(params: DeliverWebhook, job_id: str, throttle: Throttle = limits.throttle) -> str:
    """Deliver the event once; returns what happened. Raises to retry or fail the job."""
    delivery_id = params.delivery_id or job_id
    key = f"{KIND}:{delivery_id}"
    if ledger.status_of([key]).get(key) is EffectStatus.DONE:
        outcome = f"not sent again: delivery {delivery_id!r} is already done"
        runlog.logger(__name__).info("Webhook %s", outcome)
        return outcome
    target = destination(params)
    request = signed_request(params, target, delivery_id)
    done = f"Delivered webhook {params.event} (delivery {delivery_id!r})"
    reply = perform(request, Caller(job_id, target.endpoint_id), throttle=throttle, done=done)
    outcome = f"delivered {delivery_id!r} ({params.event}): HTTP {reply.status}"
    if ledger.claim(key, KIND, job_id) is ledger.Claim.GO:
        ledger.settle(key, EffectStatus.DONE, outcome)
    return outcome


def signed_request(params: DeliverWebhook, target: Destination, delivery_id: str) -> Outgoing:
    """The POST for this delivery, signed now."""
    body = params.body(delivery_id)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Webhook-Id": delivery_id,
        "X-Webhook-Event": params.event,
        **signing.headers(target.secret, body),
    }
    return Outgoing("POST", target.url, headers, body)


def destination(params: DeliverWebhook) -> Destination:
    """The URL and secret: from the endpoint's row, or the URL and its Secret block."""
    if params.endpoint_id is None:
        assert params.url is not None and params.secret_block is not None
        return Destination(params.url, secret_value(params.secret_block))
    with session() as db:
        endpoint = db.get(WebhookEndpoint, params.endpoint_id)
    if endpoint is None or not endpoint.active:
        state = "does not exist" if endpoint is None else "is inactive"
        raise PermanentJobError(f"webhook endpoint {params.endpoint_id} {state}")
    try:
        guard.check_url(endpoint.url)
    except ValueError as exc:
        raise PermanentJobError(f"webhook endpoint {endpoint.id}'s url {exc}") from None
    return Destination(endpoint.url, endpoint.secret, endpoint.id)
