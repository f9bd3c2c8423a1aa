"""One attempt at an outgoing call: send, record it, and sort the outcome into success,
retryable failure (after waiting out a Retry-After) or permanent failure."""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from dataclasses import replace

from jobs import runlog, titles
from jobs.outbound import attempts, limits, retry
from jobs.outbound.transport import Outgoing, Reply, Session, Throttle
from jobs.settings import get_settings

PREVIEW_CHARS = 200


def perform(
    request: Outgoing,
    caller: attempts.Caller,
    expected: Collection[int] = (),
    throttle: Throttle = limits.throttle,
    done: str = "Called",
) -> Reply:
    """Send ``request`` once and record the attempt; raise unless the status is expected.

    Logs the attempt: ``<done>: POST host/path → HTTP 200 (attempt 1, 35 ms)`` on success, a
    warning otherwise; the URL's host and path only, since a query string can carry tokens.
    """
    number = attempts.next_number(caller.job_id)
    with Session(get_settings(), throttle) as session:
        try:
            reply = session.send(request)
        except Exception as exc:
            attempts.record(caller, number, request, None, session.elapsed_ms, _describe(exc))
            _log_attempt(None, request, type(exc).__name__, number, session.elapsed_ms)
            raise
    headers = reply.headers
    error = retry.failure(
        reply.status, reply.url, expected, headers.get("retry-after"), _preview(reply)
    )
    attempts.record(caller, number, request, reply.status, session.elapsed_ms, _describe(error))
    final = replace(request, url=reply.url)  # after any redirects
    outcome = f"HTTP {reply.status}"
    _log_attempt(None if error else done, final, outcome, number, session.elapsed_ms)
    if error is not None:
        _wait_if_asked(error)
        raise error
    return reply


def _log_attempt(
    done: str | None, request: Outgoing, outcome: str, number: int, elapsed_ms: float
) -> None:
    """``<done>: POST host/path → HTTP 200 (attempt 1, 35 ms)``; a warning when ``done`` is
    None (the attempt failed)."""
    runlog.logger(__name__).log(
        logging.INFO if done else logging.WARNING,
        "%s: %s %s → %s (attempt %d, %.0f ms)",
        done or "Attempt failed",
        request.method,
        titles.where(request.url),
        outcome,
        number,
        elapsed_ms,
    )


def _describe(error: Exception | None) -> str | None:
    return None if error is None else f"{type(error).__name__}: {error}"


def _preview(reply: Reply) -> str:
    text = reply.body[:PREVIEW_CHARS].decode("utf-8", "replace").strip()
    return f": {text}" if text else ""


def _wait_if_asked(error: Exception) -> None:
    """Sleep for the server's Retry-After (up to the configured cap) before the retry."""
    if isinstance(error, retry.RetryableStatus) and error.retry_after:
        time.sleep(min(error.retry_after, get_settings().http_retry_after_max_seconds))
