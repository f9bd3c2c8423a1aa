"""``prefect.yaml``, generated from the job-type catalogue (:mod:`jobs.registry`).

``python -m jobs deployments`` writes it; a unit test fails, naming the difference, when the
committed file and the catalogue disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from jobs.registry import BATCH_ENTRYPOINT, JOB_TYPES, JobType, queue_for

PATH = Path(__file__).resolve().parent.parent / "prefect.yaml"
HEADER = """\
# Every job type's deployment, generated from the job-type catalogue (jobs/registry.py) by
# `python -m jobs deployments`: edit the catalogue, not this file. `make up` (or
# `prefect --no-prompt deploy --all`) applies it; the work pool and its prioritized queues
# come from deployments/pool.py. Recurring jobs run one at a time: a run due while one is
# still going is cancelled rather than queued (CANCEL_NEW). The run-batch deployments run the
# batched lane: many small jobs per flow run, each its own task run (packed by the relay).
"""


def deployment(job_type: JobType) -> dict[str, Any]:
    """One job type's entry under ``deployments:``."""
    tags = list(job_type.tags)
    if job_type.schedule:  # runs the scheduler creates carry the job type as submitted ones do
        tags.append(f"job:{job_type.name}")
    entry: dict[str, Any] = {
        "name": job_type.deployment,
        "description": job_type.description,
        "entrypoint": job_type.entrypoint,
        "tags": tags,
        "work_pool": {
            "name": "{{ $JOBS_WORK_POOL }}",
            "work_queue_name": queue_for(job_type.priority),
        },
    }
    if job_type.schedule:
        entry["parameters"] = {"params": {}}
        entry["schedules"] = [{"cron": job_type.schedule, "timezone": "UTC"}]
    if job_type.concurrency:
        entry["concurrency_limit"] = {
            "limit": job_type.concurrency,
            "collision_strategy": job_type.on_collision,
        }
    return entry


def batch_deployment(job_type: JobType) -> dict[str, Any]:
    """The deployment of a job type's batches (the batched lane): the batch flow, queued at
    the batch's priority by the relay."""
    entry: dict[str, Any] = {
        "name": job_type.deployment,
        "description": f"Batches of {job_type.name} jobs, each job its own task run.",
        "entrypoint": BATCH_ENTRYPOINT,
        "tags": [*job_type.tags, "batch"],
        "work_pool": {
            "name": "{{ $JOBS_WORK_POOL }}",
            "work_queue_name": queue_for(job_type.priority),
        },
    }
    if job_type.concurrency:
        entry["concurrency_limit"] = {
            "limit": job_type.concurrency,
            "collision_strategy": "ENQUEUE",
        }
    return entry


def render(job_types: Iterable[JobType] = JOB_TYPES.values()) -> str:
    """The text of ``prefect.yaml`` for ``job_types``."""
    types = list(job_types)
    document = {
        "name": "jobs",
        "prefect-version": "3.9.1",
        "deployments": [deployment(job_type) for job_type in types]
        + [batch_deployment(job_type) for job_type in types if job_type.batchable],
    }
    body = yaml.safe_dump(document, sort_keys=False, width=100, allow_unicode=True)
    return HEADER + body


def write(path: Path = PATH) -> Path:
    """Write ``prefect.yaml`` from the catalogue."""
    path.write_text(render())
    return path
