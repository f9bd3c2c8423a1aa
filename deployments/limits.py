"""Rate limits of outgoing HTTP per destination host (Prefect global concurrency limits with
slot decay), created or updated from ``JOBS_HTTP_RATE_LIMITS``; other hosts get theirs, at
the default rate, on first use (jobs/outbound/limits.py)."""

from __future__ import annotations

from prefect.client.orchestration import PrefectClient

from jobs.outbound.limits import limit_name, slots_for
from jobs.settings import Settings


async def apply(client: PrefectClient, settings: Settings) -> None:
    """Make each configured host's limit allow its configured requests per second."""
    for host, rate in settings.http_rate_limits.items():
        if rate > 0:
            await client.upsert_global_concurrency_limit_by_name(
                limit_name(host), slots_for(rate), slot_decay_per_second=rate
            )
