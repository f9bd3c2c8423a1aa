"""The client: submit jobs, follow them, retry or cancel them, count them. Sync and async."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

import httpx
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.objects import FlowRun, State, StateType
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.states import Cancelled, Cancelling, Scheduled

from jobs import _runs, _submit, history, recurring, registry
from jobs._options import SubmitOptions
from jobs.errors import InvalidJobParams, JobNotFound, JobsError, SubmitFailed, received
from jobs.params import JobParams
from jobs.settings import Settings, get_settings
from jobs.status import Job, JobStatus, QueueStats, RecurringJob

T = TypeVar("T")
Params = JobParams | Mapping[str, Any]
Tags = list[str] | tuple[str, ...] | AbstractSet[str]
_RETRYABLE = {StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}
_NOT_STARTED = {StateType.SCHEDULED, StateType.PAUSED, StateType.PENDING}


def _sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from sync code, even when this thread has an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


class Client:
    """Submits and manages jobs on the Prefect server named by the settings.

    ``concurrency`` is how many bulk requests (of up to ``BULK_LIMIT`` jobs each) ``submit_many``
    keeps in flight. One suits the embedded SQLite server, which runs them one at a time anyway;
    two gain about a fifth on a PostgreSQL-backed server.
    """

    def __init__(self, settings: Settings | None = None, *, concurrency: int = 1) -> None:
        self.settings = settings or get_settings()
        self.concurrency = concurrency

    @asynccontextmanager
    async def _prefect(self, doing: str) -> AsyncIterator[PrefectClient]:
        try:
            async with PrefectClient(self.settings.api_url) as client:
                yield client
        except (httpx.HTTPError, PrefectHTTPStatusError) as exc:
            raise SubmitFailed(f"could not {doing} at {self.settings.api_url}: {exc}") from exc

    # -- submitting -------------------------------------------------------------------------

    async def submit_async(
        self,
        job_type: str | JobParams,
        params: Params | None = None,
        *,
        priority: int = registry.NORMAL,
        delay: timedelta | float | None = None,
        run_at: datetime | None = None,
        idempotency_key: str | None = None,
        tags: Tags = (),
    ) -> Job:
        """Submit one job; returns at once with its handle.

        ``job_type`` is a job type's name with its ``params``, or a parameter model (such as
        ``jobs.SendEmail``) alone. The options, each checked before anything is sent:

        - ``priority``: an integer from 1 (urgent) to 10 (low); 5 by default.
        - ``delay``: seconds (int or float, not bool or str) or a timedelta, finite, from 0 to
          3650 days; or ``run_at``: a timezone-aware datetime. Not both; neither means now.
        - ``idempotency_key``: a non-empty string of at most 255 characters; submitting again
          with the same key returns the same job.
        - ``tags``: a list, tuple or set of at most 50 non-empty strings of at most 100
          characters each, none starting with ``job:`` (the client adds ``job:<type>``).

        Any other value, and invalid parameters, raise InvalidJobParams naming the option or
        field, what it takes and what it was given.
        """
        if isinstance(job_type, str):
            registry.job_type(job_type)  # an unknown job type is refused first
        elif not isinstance(job_type, JobParams):
            raise InvalidJobParams(
                "job_type: expected a job type's name or a parameter model such as "
                f"jobs.SendEmail, got {received(job_type)}"
            )
        elif params is not None:
            raise InvalidJobParams(
                f"params: expected none with a {type(job_type).__name__} model as job_type, "
                f"got {received(params)}"
            )
        options = SubmitOptions.checked(
            priority=priority,
            delay=delay,
            run_at=run_at,
            idempotency_key=idempotency_key,
            tags=tags,
        )
        kind_name = job_type if isinstance(job_type, str) else None
        params_list = [params if params is not None else job_type]
        jobs = await self._submit(kind_name, params_list, options, batch=False)
        return jobs[0]

    def submit(
        self,
        job_type: str | JobParams,
        params: Params | None = None,
        *,
        priority: int = registry.NORMAL,
        delay: timedelta | float | None = None,
        run_at: datetime | None = None,
        idempotency_key: str | None = None,
        tags: Tags = (),
    ) -> Job:
        """Sync form of :meth:`submit_async`."""
        return _sync(
            self.submit_async(
                job_type,
                params,
                priority=priority,
                delay=delay,
                run_at=run_at,
                idempotency_key=idempotency_key,
                tags=tags,
            )
        )

    async def submit_many_async(
        self,
        job_type: str,
        params_list: Sequence[Params],
        *,
        priority: int = registry.NORMAL,
        delay: timedelta | float | None = None,
        run_at: datetime | None = None,
        idempotency_keys: Sequence[str] | None = None,
        tags: Tags = (),
    ) -> list[Job]:
        """Submit many jobs of one type in bulk requests. All are validated before any is sent.

        ``params_list`` is a list or tuple of parameters; ``idempotency_keys``, if given, a list
        or tuple of as many keys, each a non-empty string of at most 255 characters. The other
        options are :meth:`submit_async`'s and apply to every job. Returns the jobs in the order
        of ``params_list``. A refused job or option raises InvalidJobParams (naming the job by
        its index) and nothing is submitted.
        """
        registry.job_type(job_type)  # an unknown job type is refused first, as by submit
        options = SubmitOptions.checked(
            params_list=params_list,
            priority=priority,
            delay=delay,
            run_at=run_at,
            idempotency_keys=idempotency_keys,
            tags=tags,
        )
        return await self._submit(job_type, params_list, options, batch=True)

    def submit_many(
        self,
        job_type: str,
        params_list: Sequence[Params],
        *,
        priority: int = registry.NORMAL,
        delay: timedelta | float | None = None,
        run_at: datetime | None = None,
        idempotency_keys: Sequence[str] | None = None,
        tags: Tags = (),
    ) -> list[Job]:
        """Sync form of :meth:`submit_many_async`."""
        return _sync(
            self.submit_many_async(
                job_type,
                params_list,
                priority=priority,
                delay=delay,
                run_at=run_at,
                idempotency_keys=idempotency_keys,
                tags=tags,
            )
        )

    async def _submit(
        self,
        job_type: str | None,
        params_list: Sequence[Params | str | JobParams],
        options: SubmitOptions,
        *,
        batch: bool,
    ) -> list[Job]:
        kind, models = self._validated(job_type, params_list, batch=batch)
        queue = registry.queue_for(options.priority)
        when = options.start_time()
        all_tags = sorted({*options.tags, f"job:{kind.name}"})
        creates = [
            _submit.run_create(model.model_dump(mode="json"), key, when, all_tags, queue)
            for model, key in zip(models, options.keys(len(models)), strict=True)
        ]
        async with self._prefect(f"submit {kind.name} jobs") as client:
            deployment_id = await self._deployment_id(client, kind)
            ids = await _submit.create_runs(client, deployment_id, creates, self.concurrency)
        return [Job(id=run_id, job_type=kind.name) for run_id in ids]

    def _validated(
        self, job_type: str | None, params_list: Sequence[Any], *, batch: bool = True
    ) -> tuple[registry.JobType, list[JobParams]]:
        """The job type and the checked parameters; messages name a batch's jobs by index."""
        if job_type is None:
            kind = registry.job_type_of(params_list[0])
        else:
            kind = registry.job_type(job_type)
        models = [
            registry.validate(kind, params, index if batch else None)
            for index, params in enumerate(params_list)
        ]
        for index, model in enumerate(models):
            size = len(json.dumps(model.model_dump(mode="json")))
            if size > self.settings.max_params_bytes:
                which = f" #{index}" if batch else ""
                raise InvalidJobParams(
                    f"{kind.name} job parameters{which} are {size} bytes as JSON; "
                    f"at most {self.settings.max_params_bytes} are accepted"
                )
        return kind, models

    async def _deployment_id(self, client: PrefectClient, kind: registry.JobType) -> UUID:
        try:
            deployment = await client.read_deployment_by_name(kind.deployment_name)
        except ObjectNotFound:
            raise SubmitFailed(
                f"{kind.name} jobs are not deployed: no deployment {kind.deployment_name!r} "
                f"on {self.settings.api_url} (run `make up`, or `prefect deploy --all`)"
            ) from None
        return deployment.id

    # -- following and managing -------------------------------------------------------------

    async def _read(self, client: PrefectClient, job: Job | UUID | str) -> FlowRun:
        job_id = _job_id(job)
        try:
            return await client.read_flow_run(job_id)
        except ObjectNotFound:
            raise JobNotFound(f"no job with id {job_id}") from None

    async def status_async(self, job: Job | UUID | str) -> JobStatus:
        """The job's state, progress, failure reason, parameters, times and attempts."""
        async with self._prefect("read a job") as client:
            run = await self._read(client, job)
            return await _runs.status_of(client, run, _job_type_of(run), self.settings.ui_url)

    def status(self, job: Job | UUID | str) -> JobStatus:
        """Sync form of :meth:`status_async`."""
        return _sync(self.status_async(job))

    async def wait_async(
        self, job: Job | UUID | str, timeout: float = 300, poll: float = 0.5
    ) -> JobStatus:
        """Wait until the job is completed, failed or cancelled; TimeoutError after ``timeout``.

        Polls the run's state over one connection; the full status is read once, at the end.
        """
        async with self._prefect("wait for a job") as client:
            async with asyncio.timeout(timeout):
                run = await self._read(client, job)
                while not _runs.job_state(run).is_final:
                    await asyncio.sleep(poll)
                    run = await self._read(client, job)
            return await _runs.status_of(client, run, _job_type_of(run), self.settings.ui_url)

    def wait(self, job: Job | UUID | str, timeout: float = 300, poll: float = 0.5) -> JobStatus:
        """Sync form of :meth:`wait_async`."""
        return _sync(self.wait_async(job, timeout, poll))

    async def retry_async(self, job: Job | UUID | str) -> None:
        """Run a failed, crashed or cancelled job again (same id, attempt count goes up)."""
        async with self._prefect("retry a job") as client:
            run = await self._read(client, job)
            if run.state is None or run.state.type not in _RETRYABLE:
                raise JobsError(
                    f"only failed, crashed or cancelled jobs can be retried; job {run.id} is "
                    f"{run.state.name if run.state else 'without a state'}"
                )
            retry: State[Any] = Scheduled(name="AwaitingRetry", message=history.MANUAL_RETRY)
            await client.set_flow_run_state(run.id, retry, force=True)

    def retry(self, job: Job | UUID | str) -> None:
        """Sync form of :meth:`retry_async`."""
        _sync(self.retry_async(job))

    async def cancel_async(self, job: Job | UUID | str) -> None:
        """Cancel a job: at once if it has not started (claimed by a worker included), else its
        worker stops it (a job whose worker is gone is cancelled by the recovery service)."""
        async with self._prefect("cancel a job") as client:
            run = await self._read(client, job)
            if run.state is None or run.state.is_final():
                name = run.state.name if run.state else "gone"
                raise JobsError(f"job {run.id} has already finished ({name}); nothing to cancel")
            message = "Cancelled through the jobs API"
            started = run.state.type not in _NOT_STARTED
            state: State[Any] = (
                Cancelling(message=message) if started else Cancelled(message=message)
            )
            await client.set_flow_run_state(run.id, state, force=True)

    def cancel(self, job: Job | UUID | str) -> None:
        """Sync form of :meth:`cancel_async`."""
        _sync(self.cancel_async(job))

    async def stats_async(self, job_type: str) -> QueueStats:
        """How many jobs of ``job_type`` are waiting, active, completed, failed, delayed."""
        kind = registry.job_type(job_type)
        async with self._prefect("count jobs") as client:
            deployment_id = await self._deployment_id(client, kind)
            return await _runs.stats_of(client, deployment_id, kind.name)

    def stats(self, job_type: str) -> QueueStats:
        """Sync form of :meth:`stats_async`."""
        return _sync(self.stats_async(job_type))

    # -- recurring jobs ---------------------------------------------------------------------

    async def recurring_jobs_async(self) -> list[RecurringJob]:
        """The jobs that run on schedules: schedule, next run, whether active."""
        async with self._prefect("list recurring jobs") as client:
            return await recurring.list_recurring(client, self.settings.work_pool)

    def recurring_jobs(self) -> list[RecurringJob]:
        """Sync form of :meth:`recurring_jobs_async`."""
        return _sync(self.recurring_jobs_async())

    async def pause_recurring_async(self, name: str) -> RecurringJob:
        """Turn a recurring job's schedules off; JobNotFound if there is no such job."""
        async with self._prefect("pause a recurring job") as client:
            return await recurring.set_active(client, name, active=False)

    def pause_recurring(self, name: str) -> RecurringJob:
        """Sync form of :meth:`pause_recurring_async`."""
        return _sync(self.pause_recurring_async(name))

    async def resume_recurring_async(self, name: str) -> RecurringJob:
        """Turn a recurring job's schedules on again; JobNotFound if there is no such job."""
        async with self._prefect("resume a recurring job") as client:
            return await recurring.set_active(client, name, active=True)

    def resume_recurring(self, name: str) -> RecurringJob:
        """Sync form of :meth:`resume_recurring_async`."""
        return _sync(self.resume_recurring_async(name))

    async def trigger_recurring_async(self, name: str) -> Job:
        """Run a recurring job now, once, besides its schedule; JobNotFound if unknown."""
        async with self._prefect("trigger a recurring job") as client:
            return await recurring.trigger(client, name)

    def trigger_recurring(self, name: str) -> Job:
        """Sync form of :meth:`trigger_recurring_async`."""
        return _sync(self.trigger_recurring_async(name))


def _job_id(job: Job | UUID | str) -> UUID:
    if isinstance(job, Job):
        return job.id
    try:
        return job if isinstance(job, UUID) else UUID(job)
    except ValueError:
        raise JobNotFound(f"a job id is a UUID; got {job!r}") from None


def _job_type_of(run: FlowRun) -> str:
    for tag in run.tags:
        if tag.startswith("job:"):
            return tag.removeprefix("job:")
    return "unknown"
