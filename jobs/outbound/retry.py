"""Which HTTP answers are retried, and how long a server asked us to wait (Retry-After)."""

from __future__ import annotations

import math
from collections.abc import Collection
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from jobs import titles
from jobs.errors import PermanentJobError

RETRYABLE_STATUS = frozenset({408, 429})  # and every 5xx


class RetryableStatus(Exception):
    """The server answered with a status worth retrying: 408, 429 or 5xx."""

    def __init__(self, status: int, url: str, retry_after: float | None = None) -> None:
        wait = "" if retry_after is None else f"; it asked to retry after {retry_after:g} s"
        super().__init__(f"HTTP {status} from {url}{wait}")
        self.status = status
        self.retry_after = retry_after


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date; None if
    absent or unreadable. A date in the past means 0."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        return _until(text, now or datetime.now(UTC))
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _until(http_date: str, now: datetime) -> float | None:
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def is_expected(status: int, expected: Collection[int]) -> bool:
    """Whether ``status`` is a success: one of ``expected``, or any 2xx when that is empty."""
    return status in expected if expected else 200 <= status < 300


def failure(
    status: int, url: str, expected: Collection[int], retry_after_header: str | None, detail: str
) -> Exception | None:
    """The error an unexpected status stands for (retryable or permanent); None for success."""
    if is_expected(status, expected):
        return None
    url = titles.without_query(url)  # the message shows in logs and the UI
    if status in RETRYABLE_STATUS or status >= 500:
        return RetryableStatus(status, url, retry_after(retry_after_header))
    wanted = ", ".join(map(str, sorted(expected))) if expected else "2xx"
    return PermanentJobError(f"HTTP {status} from {url} (expected {wanted}){detail}")
