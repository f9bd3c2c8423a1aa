"""Wake the worker the moment a flow run is scheduled, from the server's event stream."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from prefect.events.clients import get_events_subscriber
from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter

log = logging.getLogger("jobs.worker")
SCHEDULED = "prefect.flow-run.Scheduled"


def _scheduled_events() -> EventFilter:
    now = datetime.now(UTC)
    return EventFilter(
        occurred=EventOccurredFilter(since=now, until=now + timedelta(days=3650)),
        event=EventNameFilter(name=[SCHEDULED]),
    )


async def listen(wake: asyncio.Event) -> None:
    """Set ``wake`` on every scheduled flow run, reconnecting for ever (until cancelled)."""
    while True:
        try:
            async with get_events_subscriber(filter=_scheduled_events()) as events:
                log.info("listening for scheduled flow runs")
                async for _event in events:
                    wake.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # server restarting or unreachable: polling still works
            log.info("event stream unavailable (%s); reconnecting", exc)
        await asyncio.sleep(2)
