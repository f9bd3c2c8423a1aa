"""Subjects of webhook and API-call run names (see jobs/titles.py): the URL's host only, since
paths and query strings can carry tokens."""

from __future__ import annotations

from jobs import titles
from jobs.outbound.params import ApiCall, DeliverWebhook


def webhook(params: DeliverWebhook) -> str:
    """``order.paid → hooks.example.com``, or ``order.paid → endpoint 3`` (its URL is in the
    database, read when the job runs)."""
    target = f"endpoint {params.endpoint_id}" if params.url is None else titles.host(params.url)
    return f"{params.event} → {target}"


def api_call(params: ApiCall) -> str:
    """``POST api.example.com``."""
    return f"{params.method} {titles.host(params.url)}"
