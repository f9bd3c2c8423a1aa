"""Running a batch: each job of a batch flow run as its own retrying task run.

The batch's jobs are read from the outbox (:mod:`jobs.outbox`); each runs as a Prefect task
run whose id is the job's id, with the job type's task (its retries, backoff and time limit),
``batch_threads`` of them at once. Each job's start and end are written to its row as they
happen, so a batch run again after its worker died runs only the jobs that had not finished;
side effects of a job that was cut short are guarded by the ledger, as in the flow lane.

One job failing, timing out or being cancelled never touches the others. Cancelling is
cooperative: a job not started yet is skipped; a running one gets no further attempt (Prefect
checks the cancel event before each attempt), so it stops when the attempt under way ends.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from prefect import Task
from prefect.client.schemas.objects import State
from prefect.task_engine import run_task_sync

from jobs import outbox, registry
from jobs.db.models import QueuedJob, QueueState
from jobs.params import JobParams
from jobs.policy import unless_permanent

CANCELLED_MESSAGE = "Cancelled through the jobs API"
WATCH_SECONDS = 0.5
"""How often a running batch looks for cancellations of its running jobs."""


class _ThreadTimeoutNotice(logging.Filter):
    """Drops Prefect's warning, logged for every task with a time limit that runs outside the
    main thread, that the limit cannot interrupt a blocking call. In a batch every job is such
    a task: its limit stops it at its next Python instruction (Prefect raises TimeoutError in
    its thread), and the blocking calls of jobs carry their own timeouts (SMTP, HTTP). Kept,
    the warning would be one more log line per job for the server to write."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "is running in a worker thread" not in record.getMessage()


_NOTICE = _ThreadTimeoutNotice()


@dataclass(frozen=True)
class BatchTask:
    """How a job type runs in a batch: its task, and the task's arguments for one job."""

    task: Task[..., Any]
    arguments: Callable[[Any, str], dict[str, Any]]  # (params, job id) -> the task's parameters


@dataclass
class _Job:
    row: QueuedJob
    cancel: threading.Event
    retries: int = 0


def run(job_type: str, batch_id: str, batch_task: BatchTask, run_id: str | None) -> Counter[str]:
    """Run a batch's unfinished jobs; how many ended in each state."""
    spec = registry.job_type(job_type)
    logging.getLogger("prefect.task_runs").addFilter(_NOTICE)  # once: filters are a set
    jobs = {row.id: _Job(row, threading.Event()) for row in outbox.batch_jobs(batch_id)}

    def retry_unless_cancelled_or_permanent(task: Any, task_run: Any, state: Any) -> bool:
        job = jobs[str(task_run.id)]  # a job's task run has the job's id
        if job.cancel.is_set() or not unless_permanent(task, task_run, state):
            return False
        job.retries += 1
        return True

    # one copy of the task for the whole batch (a copy costs milliseconds)
    task = batch_task.task.with_options(retry_condition_fn=retry_unless_cancelled_or_permanent)
    done = threading.Event()
    watcher = threading.Thread(
        target=_watch_cancels, args=(batch_id, jobs, done), name="batch-cancels", daemon=True
    )
    watcher.start()
    try:
        with ThreadPoolExecutor(spec.batch_threads, thread_name_prefix="batch-job") as pool:
            futures = [
                pool.submit(copy_context().run, _run_one, spec, job, task, batch_task, run_id)
                for job in jobs.values()
            ]
            outcomes = Counter(future.result() for future in futures)
    finally:
        done.set()
    return outcomes


def _watch_cancels(batch_id: str, jobs: dict[str, _Job], done: threading.Event) -> None:
    while not done.wait(WATCH_SECONDS):
        for job_id in outbox.cancels(batch_id):
            if job_id in jobs:
                jobs[job_id].cancel.set()


def _run_one(
    spec: registry.JobType,
    job: _Job,
    task: Task[..., Any],
    batch_task: BatchTask,
    run_id: str | None,
) -> str:
    row = job.row
    if not outbox.start(row.id, run_id):
        return QueueState.CANCELLED  # cancelled before it started: skipped
    try:
        params: JobParams = registry.validate(spec, row.params)
    except Exception as exc:  # refused at submit already; a row edited since is refused here
        outbox.finish(row.id, QueueState.FAILED, 1, str(exc))
        return QueueState.FAILED
    try:
        state: State[Any] | None = run_task_sync(
            task,
            task_run_id=UUID(row.id),
            parameters=batch_task.arguments(params, row.id),
            return_type="state",
            context={"cancel_event": job.cancel},
        )
    except Exception as exc:  # the engine raises what it could not turn into a state
        outbox.finish(row.id, QueueState.FAILED, job.retries + 1, f"{type(exc).__name__}: {exc}")
        return QueueState.FAILED
    attempts = job.retries + 1
    if state is not None and state.is_completed():
        outbox.finish(row.id, QueueState.COMPLETED, attempts)
        return QueueState.COMPLETED
    if job.cancel.is_set():
        outbox.finish(row.id, QueueState.CANCELLED, attempts, CANCELLED_MESSAGE)
        return QueueState.CANCELLED
    reason = (state.message or state.name) if state is not None else None
    outbox.finish(row.id, QueueState.FAILED, attempts, reason)
    return QueueState.FAILED
