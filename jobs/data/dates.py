"""Calendar helpers: UTC day bounds and the last full (Monday to Sunday) week."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

WEEK = 7


def today() -> date:
    """Today's date in UTC."""
    return datetime.now(UTC).date()


def start_of(day: date) -> datetime:
    """Midnight UTC at the start of ``day``."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def last_full_week_ending(on: date) -> date:
    """The Sunday that ends the last full Monday-to-Sunday week before ``on``."""
    return on - timedelta(days=on.isoweekday() % WEEK or WEEK)


def week_days(week_ending: date) -> list[date]:
    """The seven days of the week that ends on ``week_ending`` (inclusive)."""
    return [week_ending - timedelta(days=back) for back in range(WEEK - 1, -1, -1)]


def days_between(first: date, last: date) -> Iterator[date]:
    """Every day from ``first`` to ``last``, both included."""
    for offset in range((last - first).days + 1):
        yield first + timedelta(days=offset)
