"""The webhook job's work: sign one event and POST it to its endpoint.

Deliveries are at most once: the side-effect ledger holds each delivery id from before its
request until its outcome, so neither a retry nor a re-run after a crash sends it twice (see
:func:`deliver`). Each attempt is signed afresh and carries the same ``X-Webhook-Id``.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from jobs import ledger, runlog
from jobs.db.engine import session
from jobs.db.models import EffectStatus, WebhookEndpoint
from jobs.errors import PermanentJobError
from jobs.outbound import guard, limits, signing
from jobs.outbound.attempts import Caller
from jobs.outbound.params import DeliverWebhook
from jobs.outbound.retry import RetryableStatus
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
    """Deliver the event at most once; returns what happened. Raises to retry or fail the job.

    The delivery id is claimed in the side-effect ledger just before the request leaves (after
    the rate-limit wait). An attempt that got a definite answer short of success (an error
    status, a refused connection, a refused address) releases it, so the job's retry sends
    again; one that ended any other way once the request was on its way (its process killed, a
    read timeout, the database lost after the answer) leaves it claimed: the receiver may have
    it, so it is never sent again and the job fails saying so.
    """
    delivery_id = params.delivery_id or job_id
    key = f"{KIND}:{delivery_id}"
    found = ledger.status_of([key]).get(key)
    if found is EffectStatus.DONE:
        outcome = f"not sent again: delivery {delivery_id!r} is already done"
        runlog.logger(__name__).info("Webhook %s", outcome)
        return outcome
    if found is EffectStatus.PENDING:
        raise _in_doubt(delivery_id)
    target = destination(params)
    request = signed_request(params, target, delivery_id)
    done = f"Delivered webhook {params.event} (delivery {delivery_id!r})"
    claimed = False

    def wait_then_claim(host: str) -> None:
        nonlocal claimed
        throttle(host)
        if not claimed:
            if ledger.claim(key, KIND, job_id) is not ledger.Claim.GO:
                raise _in_doubt(delivery_id)  # another attempt took it meanwhile
            claimed = True

    try:
        reply = perform(request, Caller(job_id, target.endpoint_id), throttle=wait_then_claim,
                        done=done)  # fmt: skip
    except _NOT_DELIVERED as exc:
        if claimed:
            ledger.settle(key, EffectStatus.FAILED, str(exc)[:500])
        raise
    outcome = f"delivered {delivery_id!r} ({params.event}): HTTP {reply.status}"
    ledger.settle(key, EffectStatus.DONE, outcome)
    return outcome


def _in_doubt(delivery_id: str) -> PermanentJobError:
    return PermanentJobError(
        f"an earlier attempt at delivery {delivery_id!r} stopped mid-request, so it may have "
        "arrived; it is not sent again (at most once per delivery id)"
    )


# Failures that prove the request was not taken: an answer short of success, no connection,
# a destination refused before sending.
_NOT_DELIVERED = (RetryableStatus, PermanentJobError, httpx.ConnectError, httpx.ConnectTimeout)


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
