"""One attempt at an outgoing call: send, record it, and sort the outcome into success,
retryable failure (after waiting out a Retry-After) or permanent failure."""

from __future__ import annotations

import time
from collections.abc import Collection

from jobs.outbound import attempts, limits, retry
from jobs.outbound.transport import Outgoing, Reply, Session, Throttle
from jobs.settings import get_settings

PREVIEW_CHARS = 200


def perform(
    request: Outgoing,
    caller: attempts.Caller,
    expected: Collection[int] = (),
    throttle: Throttle = limits.throttle,
) -> Reply:
    """Send ``request`` once and record the attempt; raise unless the status is expected."""
    number = attempts.next_number(caller.job_id)
    with Session(get_settings(), throttle) as session:
        try:
            reply = session.send(request)
        except Exception as exc:
            attempts.record(caller, number, request, None, session.elapsed_ms, _describe(exc))
            raise
    headers = reply.headers
    error = retry.failure(
        reply.status, reply.url, expected, headers.get("retry-after"), _preview(reply)
    )
    attempts.record(caller, number, request, reply.status, session.elapsed_ms, _describe(error))
    if error is not None:
        _wait_if_asked(error)
        raise error
    return reply


def _describe(error: Exception | None) -> str | None:
    return None if error is None else f"{type(error).__name__}: {error}"


def _preview(reply: Reply) -> str:
    text = reply.body[:PREVIEW_CHARS].decode("utf-8", "replace").strip()
    return f": {text}" if text else ""


def _wait_if_asked(error: Exception) -> None:
    """Sleep for the server's Retry-After (up to the configured cap) before the retry."""
    if isinstance(error, retry.RetryableStatus) and error.retry_after:
        time.sleep(min(error.retry_after, get_settings().http_retry_after_max_seconds))
