"""Subjects of maintenance run names (see jobs/titles.py): only what differs from the defaults,
so scheduled runs are named by their job type alone."""

from __future__ import annotations

from jobs.maintenance.params import CleanupDatabase, InvalidateCache, SendReminders


def db_cleanup(params: CleanupDatabase) -> str:
    """Empty, or ``without vacuum``."""
    return "" if params.vacuum else "without vacuum"


def cache_cleanup(params: InvalidateCache) -> str:
    """Empty, or ``older than 24 h``."""
    return "" if params.max_age_hours is None else f"older than {params.max_age_hours:g} h"


def reminders(params: SendReminders) -> str:
    """Empty, or ``ending within 7 days``."""
    return "" if params.days_before is None else f"ending within {params.days_before:g} days"


def nothing(_params: object) -> str:
    """No subject: renewals and retention are named by their job type."""
    return ""
