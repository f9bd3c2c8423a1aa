"""The API-call job's work: one request, its status and response body as the result."""

from __future__ import annotations

from typing import Any

import httpx

from jobs.outbound import limits
from jobs.outbound.attempts import Caller
from jobs.outbound.params import ApiCall
from jobs.outbound.secrets import secret_value
from jobs.outbound.send import perform
from jobs.outbound.transport import Outgoing, Throttle

USER_AGENT = "jobs-api-call/1"
CONTENT_TYPES = {"json": "application/json", "text": "text/plain; charset=utf-8"}


def call(params: ApiCall, job_id: str, throttle: Throttle = limits.throttle) -> dict[str, Any]:
    """Make the call once: ``{"status", "url", "content_type", "body"}`` on an expected status;
    raises to retry (network errors, 408, 429, 5xx) or to fail the job (other statuses)."""
    reply = perform(
        request_for(params), Caller(job_id), params.expected_status, throttle, "Called API"
    )
    return {
        "status": reply.status,
        "url": reply.url,
        "content_type": reply.headers.get("content-type"),
        "body": reply.body.decode("utf-8", "replace"),
    }


def request_for(params: ApiCall) -> Outgoing:
    """The request, its secret headers filled in from their Secret blocks."""
    headers = httpx.Headers({"User-Agent": USER_AGENT})
    if params.json_body is not None or params.text_body is not None:
        headers["Content-Type"] = CONTENT_TYPES["json" if params.json_body is not None else "text"]
    headers.update(params.headers)
    secrets = {name: secret_value(block) for name, block in params.secret_headers.items()}
    headers.update(secrets)
    return Outgoing(params.method, params.url, dict(headers), params.content(), frozenset(secrets))
