"""Flow-run heartbeats, sent by the warm worker for every run it holds.

A run is alive while the worker that claimed it is alive and supervising its process. So the
worker, whose event loop runs no job code, reports each of its runs (claimed or running) with
one ``prefect.flow-run.heartbeat`` event every ``JOBS_WORKER_HEARTBEAT_SECONDS``, all of them
in one request to the server's events endpoint; the recovery service
(:mod:`jobs.worker.recovery`) crashes the runs whose heartbeats stop. A claimed run that has
not started yet is covered too, which the engine's own heartbeats (sent only while running)
could not do, and job code that holds the GIL cannot delay them.

The run processes therefore send none: Prefect's engine heartbeat thread is switched off in
them (it also slept in one-second steps and was joined when the run ended, holding the slot up
to a second longer than the work took).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import prefect.flow_engine
from prefect.client.schemas.objects import FlowRun
from prefect.events import Event, RelatedResource

HEARTBEAT = "prefect.flow-run.heartbeat"


def heartbeat(flow_run: FlowRun, worker: str, interval: float) -> Event:
    """The heartbeat event of ``flow_run``, held by ``worker``, the next one due in ``interval``."""
    related = [
        RelatedResource.model_validate(
            {
                "prefect.resource.id": f"prefect.worker.warm.{worker}",
                "prefect.resource.role": "worker",
                "prefect.resource.name": worker,
            }
        )
    ]
    if flow_run.deployment_id:
        related.append(
            RelatedResource.model_validate(
                {
                    "prefect.resource.id": f"prefect.deployment.{flow_run.deployment_id}",
                    "prefect.resource.role": "deployment",
                }
            )
        )
    if flow_run.work_pool_name:
        related.append(
            RelatedResource.model_validate(
                {
                    "prefect.resource.id": f"prefect.work-pool.{flow_run.work_pool_id}",
                    "prefect.resource.role": "work-pool",
                    "prefect.resource.name": flow_run.work_pool_name,
                }
            )
        )
    return Event(
        occurred=datetime.now(UTC),
        event=HEARTBEAT,
        resource={
            "prefect.resource.id": f"prefect.flow-run.{flow_run.id}",
            "prefect.resource.name": flow_run.name or "",
        },
        related=related,
        payload={"worker": worker, "interval_seconds": interval},
    )


@contextmanager
def _none(engine: Any, join_on_exit: bool = True) -> Iterator[None]:
    yield


def install() -> None:
    """Make Prefect's flow engine (in this process) send no heartbeats: the worker does."""
    prefect.flow_engine._send_heartbeats = _none
