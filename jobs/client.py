"""The client: submit jobs, follow them, retry or cancel them, count them. Sync and async."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.objects import FlowRun, State, StateType
from prefect.exceptions import ObjectNotFound
from prefect.states import Cancelled, Cancelling, Scheduled

from jobs import deadletter, history, reading, recurring, registry
from jobs.aio import run_sync
from jobs.errors import JobNotFound, JobsError, ServerUnavailable
from jobs.status import Job, JobState, JobStatus, Lane, QueueStats, RecurringJob, Replay
from jobs.submitter import Submitter

if TYPE_CHECKING:
    from jobs.db.models import QueuedJob

_FINISHED = {"completed", "failed", "cancelled"}  # jobs.db.models.QueueState values

_RETRYABLE = {StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}
_NOT_STARTED = {StateType.SCHEDULED, StateType.PAUSED, StateType.PENDING}


class Client(Submitter):
    """Submits and manages jobs on the Prefect server named by the settings.

    Submitting is :class:`~jobs.submitter.Submitter`'s; ``concurrency`` is how many bulk
    requests ``submit_many`` keeps in flight (one suits the embedded SQLite server, two gain
    about a fifth on PostgreSQL). A server that cannot be reached, or answers a read with an
    error, raises ServerUnavailable; a submit that fails so raises SubmitFailed.
    """

    @asynccontextmanager
    async def _reading(self, doing: str) -> AsyncIterator[PrefectClient]:
        async with self._prefect(doing, ServerUnavailable) as client:
            yield client

    # -- following and managing -------------------------------------------------------------

    async def _read(self, client: PrefectClient, job: Job | UUID | str) -> FlowRun:
        job_id = _job_id(job)
        try:
            return await client.read_flow_run(job_id)
        except ObjectNotFound:
            raise JobNotFound(f"no job with id {job_id}") from None

    async def _outbox(self, doing: str, function: str, *args: Any) -> Any:
        """``jobs.outbox.<function>(*args)`` in a thread; ServerUnavailable if the database
        fails. The outbox and the ORM are imported on first use: ``import jobs`` stays light."""
        from sqlalchemy.exc import SQLAlchemyError

        from jobs import outbox

        call: Callable[..., Any] = getattr(outbox, function)
        url = self.settings.app_database_url
        try:
            return await asyncio.to_thread(call, *args, url)
        except SQLAlchemyError as exc:
            raise ServerUnavailable(
                f"could not {doing} in the outbox (database {url}): {exc}"
            ) from exc

    async def _row(self, job: Job | UUID | str) -> QueuedJob | None:
        """The job's outbox row: a batched job, or one submitted through the outbox."""
        row: QueuedJob | None = await self._outbox("read a job", "get", str(_job_id(job)))
        return row

    @staticmethod
    def _in_outbox(row: QueuedJob | None) -> bool:
        """Whether the job is followed through its row (else through its flow run)."""
        return row is not None and not (row.lane == Lane.FLOW and row.run_id)

    async def status_async(self, job: Job | UUID | str) -> JobStatus:
        """The job's state, progress, failure reason, parameters, times and attempts."""
        row = await self._row(job)
        if row is not None and self._in_outbox(row):
            return reading.status_of_row(row, self.settings.ui_url)
        async with self._reading("read a job") as client:
            run = await self._read(client, row.run_id if row and row.run_id else job)
            status = await reading.status_of(client, run, _job_type_of(run), self.settings.ui_url)
        return status.model_copy(update={"id": _job_id(job)})

    def status(self, job: Job | UUID | str) -> JobStatus:
        """Sync form of :meth:`status_async`."""
        return run_sync(self.status_async(job))

    async def wait_async(
        self, job: Job | UUID | str, timeout: float = 300, poll: float = 0.5
    ) -> JobStatus:
        """Wait until the job is completed, failed or cancelled; TimeoutError after ``timeout``.

        Polls the job's state (its row, or its run's state over one connection); the full
        status is read once, at the end.
        """
        async with asyncio.timeout(timeout):
            row = await self._row(job)
            while row is not None and self._in_outbox(row):
                if reading.row_state(row).is_final:
                    return reading.status_of_row(row, self.settings.ui_url)
                await asyncio.sleep(poll)
                row = await self._row(job)
            async with self._reading("wait for a job") as client:
                run = await self._read(client, row.run_id if row and row.run_id else job)
                while not reading.job_state(run).is_final:
                    await asyncio.sleep(poll)
                    run = await self._read(client, run.id)
                await _recorded(run)
                status = await reading.status_of(
                    client, run, _job_type_of(run), self.settings.ui_url
                )
        return status.model_copy(update={"id": _job_id(job)})

    def wait(self, job: Job | UUID | str, timeout: float = 300, poll: float = 0.5) -> JobStatus:
        """Sync form of :meth:`wait_async`."""
        return run_sync(self.wait_async(job, timeout, poll))

    async def retry_async(self, job: Job | UUID | str) -> None:
        """Run a failed, crashed or cancelled job again (same id, attempt count goes up)."""
        row = await self._row(job)
        if row is not None and self._in_outbox(row):
            before = await self._outbox("retry a job", "retry", row.id)
            if before not in ("failed", "cancelled"):
                raise JobsError(
                    f"only failed, crashed or cancelled jobs can be retried; job {row.id} is "
                    f"{reading.row_state(row).value}"
                )
            return
        async with self._reading("retry a job") as client:
            run = await self._read(client, row.run_id if row and row.run_id else job)
            if run.state is None or run.state.type not in _RETRYABLE:
                raise JobsError(
                    f"only failed, crashed or cancelled jobs can be retried; job {run.id} is "
                    f"{run.state.name if run.state else 'without a state'}"
                )
            retry: State[Any] = Scheduled(name="AwaitingRetry", message=history.MANUAL_RETRY)
            await client.set_flow_run_state(run.id, retry, force=True)

    def retry(self, job: Job | UUID | str) -> None:
        """Sync form of :meth:`retry_async`."""
        run_sync(self.retry_async(job))

    async def cancel_async(self, job: Job | UUID | str) -> None:
        """Cancel a job: at once if it has not started (claimed by a worker included), else its
        worker stops it (a job whose worker is gone is cancelled by the recovery service). A
        running batched job gets no further attempt: it stops when the one under way ends."""
        message = "Cancelled through the jobs API"
        row = await self._row(job)
        if row is not None and self._in_outbox(row):
            before = await self._outbox("cancel a job", "cancel", row.id, message)
            if before in _FINISHED:
                raise JobsError(f"job {row.id} has already finished ({before}); nothing to cancel")
            return
        async with self._reading("cancel a job") as client:
            run = await self._read(client, row.run_id if row and row.run_id else job)
            if run.state is None or run.state.is_final():
                name = run.state.name if run.state else "gone"
                raise JobsError(f"job {run.id} has already finished ({name}); nothing to cancel")
            started = run.state.type not in _NOT_STARTED
            state: State[Any] = (
                Cancelling(message=message) if started else Cancelled(message=message)
            )
            await client.set_flow_run_state(run.id, state, force=True)

    def cancel(self, job: Job | UUID | str) -> None:
        """Sync form of :meth:`cancel_async`."""
        run_sync(self.cancel_async(job))

    async def stats_async(self, job_type: str) -> QueueStats:
        """How many jobs of ``job_type`` are in each state: waiting, active, completed, failed,
        delayed, cancelled, paused (as :meth:`status_async` reports them); and their total.
        Batched jobs count one each, whatever batch they are in."""
        spec = registry.job_type(job_type)
        async with self._reading("count jobs") as client:
            deployment_id = await self._deployment_id(client, spec, ServerUnavailable)
            stats = await reading.stats_of(client, deployment_id, spec.name)

        batched, relayed = await asyncio.gather(
            self._outbox("count jobs", "counts", spec.name, Lane.BATCH),
            self._outbox("count jobs", "counts", spec.name, Lane.FLOW),
        )
        return reading.add_outbox_counts(stats, batched, relayed)

    def stats(self, job_type: str) -> QueueStats:
        """Sync form of :meth:`stats_async`."""
        return run_sync(self.stats_async(job_type))

    # -- dead letters ------------------------------------------------------------------------

    async def dead_letters_async(
        self,
        job_type: str | None = None,
        reason: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 500,
    ) -> list[JobStatus]:
        """Failed jobs (Failed and Crashed runs, failed batched jobs), newest first: of
        ``job_type`` (None: any), whose failure reason contains ``reason`` (any case), that
        ended at or after ``since`` and before ``until`` (timezone-aware); at most ``limit``
        (1 to 10,000). Bad arguments raise InvalidJobParams naming the argument."""
        selection = deadletter.Selection.checked(job_type, reason, since, until, limit)
        async with self._reading("list failed jobs") as client:
            return await deadletter.dead_letters(
                client,
                selection,
                functools.partial(self._outbox, "list failed jobs"),
                self.settings.ui_url,
            )

    def dead_letters(
        self,
        job_type: str | None = None,
        reason: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 500,
    ) -> list[JobStatus]:
        """Sync form of :meth:`dead_letters_async`."""
        return run_sync(self.dead_letters_async(job_type, reason, since, until, limit))

    async def replay_async(self, jobs: Iterable[Job | JobStatus | UUID | str]) -> Replay:
        """Retry each of ``jobs`` that is failed (same id, same idempotency key, attempts go
        up: never a second job); the others are skipped, each with the reason (``"completed,
        not failed"``, ``"no job with id ..."``). ``jobs`` may be what :meth:`dead_letters`
        returned. InvalidJobParams, and nothing replayed, if an item is not a job or a job
        id."""
        ids = deadletter.job_ids(jobs)
        return await deadletter.replay(ids, self._state_async, self.retry_async)

    def replay(self, jobs: Iterable[Job | JobStatus | UUID | str]) -> Replay:
        """Sync form of :meth:`replay_async`."""
        return run_sync(self.replay_async(jobs))

    async def _state_async(self, job: Job | UUID | str) -> JobState:
        """The job's state alone (its row, or its run)."""
        row = await self._row(job)
        if row is not None and self._in_outbox(row):
            return reading.row_state(row)
        async with self._reading("read a job") as client:
            run = await self._read(client, row.run_id if row and row.run_id else job)
        return reading.job_state(run)

    # -- recurring jobs ---------------------------------------------------------------------

    async def recurring_jobs_async(self) -> list[RecurringJob]:
        """The jobs that run on schedules: schedule, next run, whether active."""
        async with self._reading("list recurring jobs") as client:
            return await recurring.list_recurring(client, self.settings.work_pool)

    def recurring_jobs(self) -> list[RecurringJob]:
        """Sync form of :meth:`recurring_jobs_async`."""
        return run_sync(self.recurring_jobs_async())

    async def pause_recurring_async(self, name: str) -> RecurringJob:
        """Turn a recurring job's schedules off; JobNotFound if there is no such job."""
        async with self._reading("pause a recurring job") as client:
            return await recurring.set_active(client, name, active=False)

    def pause_recurring(self, name: str) -> RecurringJob:
        """Sync form of :meth:`pause_recurring_async`."""
        return run_sync(self.pause_recurring_async(name))

    async def resume_recurring_async(self, name: str) -> RecurringJob:
        """Turn a recurring job's schedules on again; JobNotFound if there is no such job."""
        async with self._reading("resume a recurring job") as client:
            return await recurring.set_active(client, name, active=True)

    def resume_recurring(self, name: str) -> RecurringJob:
        """Sync form of :meth:`resume_recurring_async`."""
        return run_sync(self.resume_recurring_async(name))

    async def trigger_recurring_async(self, name: str) -> Job:
        """Run a recurring job now, once, besides its schedule; JobNotFound if unknown."""
        async with self._reading("trigger a recurring job") as client:
            return await recurring.trigger(client, name)

    def trigger_recurring(self, name: str) -> Job:
        """Sync form of :meth:`trigger_recurring_async`."""
        return run_sync(self.trigger_recurring_async(name))


RECORDED_AFTER = timedelta(seconds=1.5)
"""How long after a run ends its task runs (and so its attempts) are surely in the database:
the server records task runs in batches, flushed every second (``SERVER_TUNING``)."""


async def _recorded(run: FlowRun) -> None:
    """Wait until the run's task runs are recorded, if it ended only just now."""
    if run.end_time is not None:
        left = (run.end_time + RECORDED_AFTER - datetime.now(UTC)).total_seconds()
        await asyncio.sleep(min(max(left, 0.0), RECORDED_AFTER.total_seconds()))


def _job_id(job: Job | UUID | str) -> UUID:
    if isinstance(job, Job):
        return job.id
    try:
        return job if isinstance(job, UUID) else UUID(job)
    except ValueError:
        raise JobNotFound(f"a job id is a UUID; got {job!r}") from None


def _job_type_of(run: FlowRun) -> str:
    return registry.job_type_named_by(run.tags)
