"""The batched lane's flow: a batch of jobs of one type, each its own retrying task run."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_table_artifact
from prefect.runtime import flow_run

from flows import mail, media, outbound, ping
from jobs import batching, outbox
from jobs.registry import BATCH_FLOW

TASKS: dict[str, batching.BatchTask] = {
    "email": batching.BatchTask(
        mail.send_message,
        lambda params, job_id: {
            "params": params,
            "key": params.message_key or job_id,
            "job_id": job_id,
        },
    ),
    "webhook": batching.BatchTask(
        outbound.deliver, lambda params, job_id: {"params": params, "job_id": job_id}
    ),
    "api_call": batching.BatchTask(
        outbound.call, lambda params, job_id: {"params": params, "job_id": job_id}
    ),
    "image": batching.BatchTask(media.render_image, lambda params, _: {"params": params}),
    "thumbnails": batching.BatchTask(media.render_thumbnails, lambda params, _: {"params": params}),
    "ping": batching.BatchTask(ping.ping_task, lambda params, _: {"params": params}),
}


@flow(name=BATCH_FLOW, log_prints=False)
def run_batch(job_type: str, batch: str) -> dict[str, int]:
    """Run the batch's jobs that have not finished; a table of their outcomes."""
    outcomes = batching.run(job_type, batch, TASKS[job_type], str(flow_run.id))
    rows: list[dict[str, Any]] = [
        {"job": row.id, "state": row.state, "attempts": row.attempts,
         "reason": row.failure_reason or ""}
        for row in outbox.batch_rows(batch)
    ]  # fmt: skip
    create_table_artifact(rows, description=f"{len(rows)} {job_type} jobs of batch {batch}")
    return dict(outcomes)
