"""Rate limits per destination host: one Prefect global concurrency limit with slot decay each.

A host's limit is named ``http-host:<host>``; ``deployments/limits.py`` creates those of the
hosts in ``JOBS_HTTP_RATE_LIMITS``, and a host without one gets it on first use, at
``JOBS_HTTP_RATE_LIMIT_DEFAULT`` requests per second. Every request (each redirect hop too)
takes a slot of its host's limit first, so a strict host slows only the requests to itself.

A limit is looked up before it is created, once per process (each job runs in a process of its
own) and by one thread at a time, so a job finds its host's limit rather than asks to create it
again; when another process created it meanwhile, the server's refusal (409) is as good.
"""

from __future__ import annotations

import math
import threading
from contextlib import suppress

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import rate_limit
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from jobs.settings import Settings, get_settings

PREFIX = "http-host:"
_ensured: set[str] = set()
_ensuring = threading.Lock()


def limit_name(host: str) -> str:
    """The name of ``host``'s rate limit."""
    return PREFIX + host.lower()


def slots_for(rate: float) -> int:
    """Slots of a limit allowing ``rate`` requests per second: the burst it allows."""
    return max(1, math.ceil(rate))


def rate_for(host: str, settings: Settings) -> float:
    """Requests per second allowed to ``host``; 0 means no limit."""
    configured = {name.lower(): rate for name, rate in settings.http_rate_limits.items()}
    return configured.get(host.lower(), settings.http_rate_limit_default)


def ensure(host: str, settings: Settings) -> str:
    """Create ``host``'s limit at its configured (or the default) rate unless it exists."""
    name = limit_name(host)
    with _ensuring:
        if name not in _ensured:
            with get_client(sync_client=True) as client:
                try:
                    client.read_global_concurrency_limit_by_name(name)
                except ObjectNotFound:
                    rate = rate_for(host, settings)
                    limit = GlobalConcurrencyLimitCreate(
                        name=name, limit=slots_for(rate), slot_decay_per_second=rate
                    )
                    with suppress(ObjectAlreadyExists):  # another process was first
                        client.create_global_concurrency_limit(limit)
            _ensured.add(name)
    return name


def throttle(host: str) -> None:
    """Wait for a slot of ``host``'s rate limit (TimeoutError after the configured wait)."""
    settings = get_settings()
    if rate_for(host, settings) > 0:
        name = ensure(host, settings)
        rate_limit(name, timeout_seconds=settings.http_rate_limit_wait_seconds, strict=True)
