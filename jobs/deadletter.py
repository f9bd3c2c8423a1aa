"""Dead letters: the failed jobs of an incident, selected by job type, failure reason and time
window, and replayed.

A failed job is a flow-lane job whose run ended Failed or Crashed, or a batched job (or a
flow-lane job never handed over) whose outbox row is failed. Both are selected where they live
with the server's own filters: flow runs by state type, ``job:<type>`` tag, flow and end time
(newest first, a page at a time), outbox rows through ``ix_queued_jobs_finished``. The failure
reason is matched as a case-insensitive substring: on the runs of the window as they are read,
in SQL on the outbox.

A replay is a retry of each job (:meth:`jobs.Client.retry_async`): the same job runs again,
with its id and idempotency key, its attempts going up; it never makes a second job. A job that
is no longer failed (retried already, or never failed) is skipped, with the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterEndTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.sorting import FlowRunSort

from jobs import reading, registry
from jobs.errors import InvalidJobParams, JobNotFound, JobsError, received
from jobs.status import Job, JobState, JobStatus, Replay

if TYPE_CHECKING:
    from jobs.db.models import QueuedJob

MAX_LIMIT = 10_000
"""Most jobs one selection returns."""
MAX_REASON_LENGTH = 1000
"""Longest failure-reason text to look for."""
PAGE = 200
"""Flow runs read per request (the server's default page limit)."""
CONCURRENCY = 8
"""Jobs read or retried at once."""

OutboxCall = Callable[..., Awaitable[Any]]
"""``jobs.outbox.<function>(*args, url)`` in a thread, by name; database errors raised as
ServerUnavailable (the client's ``_outbox``, bound to what it is doing)."""


@dataclass(frozen=True)
class Selection:
    """Which failed jobs to select; :meth:`checked` refuses bad values."""

    job_type: str | None
    reason: str | None
    since: datetime | None
    until: datetime | None
    limit: int

    @classmethod
    def checked(
        cls,
        job_type: object = None,
        reason: object = None,
        since: object = None,
        until: object = None,
        limit: object = 500,
    ) -> Selection:
        """The selection, or InvalidJobParams naming the argument, what it takes and what it
        was given."""
        if job_type is not None:
            registry.job_type(job_type)  # type: ignore[arg-type]  # refuses with job_type: ...
        if reason is not None and not (
            isinstance(reason, str) and 0 < len(reason) <= MAX_REASON_LENGTH
        ):
            raise InvalidJobParams(
                f"reason: expected a non-empty string of at most {MAX_REASON_LENGTH} "
                f"characters, got {received(reason)}"
            )
        for name, moment in (("since", since), ("until", until)):
            if moment is not None and not (
                isinstance(moment, datetime) and moment.utcoffset() is not None
            ):
                raise InvalidJobParams(
                    f"{name}: expected a timezone-aware datetime, got {received(moment)}"
                )
        if isinstance(since, datetime) and isinstance(until, datetime) and until <= since:
            raise InvalidJobParams(
                f"until: expected a datetime after since ({since.isoformat()}), "
                f"got {received(until)}"
            )
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise InvalidJobParams(
                f"limit: expected an integer from 1 to {MAX_LIMIT}, got {received(limit)}"
            )
        return cls(job_type, reason, since, until, limit)  # type: ignore[arg-type]

    def matches(self, reason: str | None) -> bool:
        """Whether a failure reason contains the selection's text (any case)."""
        return self.reason is None or self.reason.casefold() in (reason or "").casefold()


# -- selecting -------------------------------------------------------------------------------


def _runs_filter(selection: Selection) -> tuple[FlowRunFilter, FlowFilter]:
    """Failed and crashed runs of the job types' own flows (not their batches' runs), ended in
    the window."""
    types = (
        [registry.job_type(selection.job_type)]
        if selection.job_type
        else list(registry.JOB_TYPES.values())
    )
    tags = [f"job:{spec.name}" for spec in types]
    runs = FlowRunFilter(
        state=FlowRunFilterState(
            type=FlowRunFilterStateType(any_=[StateType.FAILED, StateType.CRASHED])
        ),
        tags=FlowRunFilterTags(all_=tags) if len(tags) == 1 else FlowRunFilterTags(any_=tags),
        end_time=FlowRunFilterEndTime(after_=selection.since, before_=selection.until),
    )
    flows = FlowFilter(name=FlowFilterName(any_=[spec.flow for spec in types]))
    return runs, flows


async def failed_runs(client: PrefectClient, selection: Selection) -> list[FlowRun]:
    """The selected flow-lane jobs' runs, newest end first, at most ``selection.limit``: pages
    of the server's filtered, sorted runs, until enough match the reason or none are left."""
    runs_filter, flows = _runs_filter(selection)
    found: dict[UUID, FlowRun] = {}
    offset = 0
    while len(found) < selection.limit:
        page = await client.read_flow_runs(
            flow_run_filter=runs_filter,
            flow_filter=flows,
            sort=FlowRunSort.END_TIME_DESC,
            limit=PAGE,
            offset=offset,
        )
        for run in page:
            ended = run.end_time
            if selection.until is not None and ended is not None and ended >= selection.until:
                continue  # the server's before_ includes its bound; the window does not
            if run.state is not None and selection.matches(run.state.message):
                found.setdefault(run.id, run)
        if len(page) < PAGE:
            break
        offset += PAGE
    return list(found.values())[: selection.limit]


async def _job_ids(runs: list[FlowRun], outbox: OutboxCall) -> dict[UUID, UUID]:
    """The job id of each run: its own, except for a job relayed from the outbox, whose id is
    its row's (named by the run's idempotency key: ``outbox-<id>``, or the key its row holds)."""
    ids = {run.id: run.id for run in runs}
    held: dict[str, UUID] = {}
    for run in runs:
        key = run.idempotency_key or ""
        if key.startswith("outbox-"):
            ids[run.id] = UUID(key.removeprefix("outbox-"))
        elif key and not key.startswith("submit-"):
            held[key] = run.id
    if held:
        holders = await outbox("key_holders", list(held))
        for key, holder in holders.items():
            if holder.run_id == str(held[key]):
                ids[held[key]] = UUID(holder.id)
    return ids


_EPOCH = datetime.fromtimestamp(0, UTC)


def _ended(row: QueuedJob) -> datetime:
    moment = row.finished_at or row.created_at
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def dead_letters(
    client: PrefectClient, selection: Selection, outbox: OutboxCall, ui_url: str
) -> list[JobStatus]:
    """The selected failed jobs of both lanes, newest end first, as :meth:`jobs.Client.status`
    reports them."""
    runs, rows = await asyncio.gather(
        failed_runs(client, selection),
        outbox(
            "failed",
            selection.job_type,
            selection.reason,
            selection.since,
            selection.until,
            selection.limit,
        ),
    )
    ended: list[tuple[datetime, FlowRun | QueuedJob]] = [
        *((run.end_time or _EPOCH, run) for run in runs),
        *((_ended(row), row) for row in rows),
    ]
    ended.sort(key=lambda pair: pair[0], reverse=True)
    chosen = [item for _, item in ended[: selection.limit]]
    chosen_runs = [item for item in chosen if isinstance(item, FlowRun)]
    job_ids = await _job_ids(chosen_runs, outbox)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def status(item: FlowRun | QueuedJob) -> JobStatus:
        if not isinstance(item, FlowRun):
            return reading.status_of_row(item, ui_url)
        async with gate:
            found = await reading.status_of(
                client, item, registry.job_type_named_by(item.tags), ui_url
            )
        return found.model_copy(update={"id": job_ids[item.id]})

    return list(await asyncio.gather(*(status(item) for item in chosen)))


# -- replaying -------------------------------------------------------------------------------


def job_ids(jobs: object) -> list[UUID]:
    """The ids of the jobs to replay, each once, in order; InvalidJobParams for anything that
    is not a job (nothing is replayed then)."""
    if isinstance(jobs, str | bytes) or not isinstance(jobs, Iterable):
        raise InvalidJobParams(
            "jobs: expected an iterable of jobs (jobs.Job, jobs.JobStatus, UUID or UUID string), "
            f"got {received(jobs)}"
        )
    ids: dict[UUID, None] = {}
    for index, job in enumerate(jobs):
        if isinstance(job, Job | JobStatus):
            ids[job.id] = None
        elif isinstance(job, UUID):
            ids[job] = None
        else:
            try:
                ids[UUID(job)] = None
            except (TypeError, ValueError, AttributeError):
                raise InvalidJobParams(
                    f"jobs.{index}: expected a job (jobs.Job or jobs.JobStatus), a UUID or a UUID "
                    "string, "
                    f"got {received(job)}"
                ) from None
    return list(ids)


async def replay(
    ids: list[UUID],
    state_of: Callable[[UUID], Awaitable[JobState]],
    retry: Callable[[UUID], Awaitable[None]],
) -> Replay:
    """Retry each job that is failed; say why each other one was not."""
    gate = asyncio.Semaphore(CONCURRENCY)
    skipped: dict[str, str] = {}
    replayed: set[UUID] = set()

    async def one(job_id: UUID) -> None:
        async with gate:
            try:
                state = await state_of(job_id)
                if state is not JobState.FAILED:
                    skipped[str(job_id)] = f"{state.value}, not failed"
                    return
                await retry(job_id)
            except JobNotFound:
                skipped[str(job_id)] = f"no job with id {job_id}"
            except JobsError as exc:  # e.g. retried by someone else meanwhile
                skipped[str(job_id)] = str(exc)
            else:
                replayed.add(job_id)

    await asyncio.gather(*(one(job_id) for job_id in ids))
    return Replay(
        replayed=[job_id for job_id in ids if job_id in replayed],
        skipped={str(job_id): skipped[str(job_id)] for job_id in ids if str(job_id) in skipped},
    )
