"""Submitting jobs: the part of the client that domain code starting follow-up jobs uses.

:class:`jobs.Client` is a :class:`Submitter` that also follows, retries, cancels and counts
jobs; a job that submits other jobs (the weekly report's email, the renewals' charges) uses a
Submitter of the server its run came from (:meth:`Submitter.of_this_run`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import httpx
from prefect.client.orchestration import PrefectClient
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

from jobs import creation, registry
from jobs.aio import run_sync
from jobs.errors import InvalidJobParams, JobsError, SubmitFailed, received
from jobs.options import SubmitOptions
from jobs.params import JobParams
from jobs.prefect_api import prefect_client
from jobs.settings import Settings, get_settings
from jobs.status import Job, Lane

if TYPE_CHECKING:
    from jobs import outbox

Params = JobParams | Mapping[str, Any]
Tags = list[str] | tuple[str, ...] | AbstractSet[str]


class Submitter:
    """Submits jobs to the Prefect server named by the settings.

    ``concurrency`` is how many bulk requests (of up to ``BULK_LIMIT`` jobs each) ``submit_many``
    keeps in flight. One suits the embedded SQLite server, which runs them one at a time anyway;
    two gain about a fifth on a PostgreSQL-backed server.
    """

    def __init__(self, settings: Settings | None = None, *, concurrency: int = 1) -> None:
        self.settings = settings or get_settings()
        self.concurrency = concurrency

    @classmethod
    def of_this_run(cls) -> Submitter:
        """A submitter of the Prefect server the current flow run came from (else the
        configured one)."""
        from prefect.settings import PREFECT_API_URL

        settings = get_settings()
        api_url = PREFECT_API_URL.value() or settings.api_url
        return cls(settings.model_copy(update={"prefect_api_url": api_url}))

    @asynccontextmanager
    async def _prefect(
        self, doing: str, error: type[JobsError] = SubmitFailed
    ) -> AsyncIterator[PrefectClient]:
        try:
            async with prefect_client(self.settings.api_url, self.settings.server_auth) as client:
                yield client
        except (httpx.HTTPError, PrefectHTTPStatusError) as exc:
            raise error(f"could not {doing} at {self.settings.api_url}: {exc}") from exc

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
        lane: Lane | str | None = None,
        debounce: tuple[str, float] | None = None,
        fairness_key: str | None = None,
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
        - ``lane``: ``"batch"`` runs the job as a task run in a batch flow run with others of
          its type (the small job types' default: email, webhook, api_call, image,
          thumbnails, ping); ``"flow"`` as its own flow run. None: the job type's lane.
        - ``debounce``: ``(key, seconds)``: submits with the same key within ``seconds`` of
          the first are one job, run once when the window ends, with the last parameters;
          each submit returns that job. Not with ``idempotency_key``.
        - ``fairness_key``: e.g. a tenant id: within a priority, due jobs are handed to workers
          round-robin across keys, so one key's burst does not starve another's jobs.

        Any other value, and invalid parameters, raise InvalidJobParams naming the option or
        field, what it takes and what it was given.
        """
        job_type_name, params_list, options = checked_one(
            job_type,
            params,
            priority=priority,
            delay=delay,
            run_at=run_at,
            idempotency_key=idempotency_key,
            tags=tags,
            lane=lane,
            debounce=debounce,
            fairness_key=fairness_key,
        )
        jobs = await self._submit(job_type_name, params_list, options, batch=False)
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
        lane: Lane | str | None = None,
        debounce: tuple[str, float] | None = None,
        fairness_key: str | None = None,
    ) -> Job:
        """Sync form of :meth:`submit_async`."""
        return run_sync(
            self.submit_async(
                job_type,
                params,
                priority=priority,
                delay=delay,
                run_at=run_at,
                idempotency_key=idempotency_key,
                tags=tags,
                lane=lane,
                debounce=debounce,
                fairness_key=fairness_key,
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
        lane: Lane | str | None = None,
        fairness_key: str | None = None,
    ) -> list[Job]:
        """Submit many jobs of one type in bulk requests. All are validated before any is sent.

        ``params_list`` is a list or tuple of parameters; ``idempotency_keys``, if given, a list
        or tuple of as many keys, each a non-empty string of at most 255 characters. The other
        options are :meth:`submit_async`'s and apply to every job. Batched jobs are packed into
        batch flow runs of up to ``JOBS_BATCH_SIZE``. Returns the jobs in the order
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
            lane=lane,
            fairness_key=fairness_key,
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
        lane: Lane | str | None = None,
        fairness_key: str | None = None,
    ) -> list[Job]:
        """Sync form of :meth:`submit_many_async`."""
        return run_sync(
            self.submit_many_async(
                job_type,
                params_list,
                priority=priority,
                delay=delay,
                run_at=run_at,
                idempotency_keys=idempotency_keys,
                tags=tags,
                lane=lane,
                fairness_key=fairness_key,
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
        from jobs import outbox  # the application database: not loaded by `import jobs`
        from jobs.db.models import QueueState

        spec, models = self._validated(job_type, params_list, batch=batch)
        lane = lane_of(spec, options)
        if lane is Lane.BATCH or options.debounce or options.fairness_key:
            added = await self._to_outbox(spec, outbox_jobs(spec, models, options, lane))
            return [Job(id=UUID(job.id), job_type=job.job_type) for job in added]
        keys = options.keys(len(models))
        held = await self._key_holders(keys)
        fresh = [index for index, key in enumerate(keys) if key is None or key not in held]
        queue = registry.queue_for(options.priority)
        when = options.start_time()
        all_tags = sorted({*options.tags, f"job:{spec.name}"})
        creates = [
            creation.run_create(models[i].model_dump(mode="json"), keys[i], when, all_tags, queue)
            for i in fresh
        ]
        created: list[UUID] = []
        if creates:
            async with self._prefect(f"submit {spec.name} jobs") as client:
                deployment_id = await self._deployment_id(client, spec)
                created = await creation.create_runs(
                    client, deployment_id, creates, self.concurrency
                )
        ids = dict(zip(fresh, created, strict=True))
        registered = [
            outbox.NewJob(
                spec.name, Lane.FLOW, {}, options.priority, [], idempotency_key=keys[i],
                id=str(ids[i]), state=QueueState.DISPATCHED, run_id=str(ids[i]),
            )
            for i in fresh
            if keys[i] is not None
        ]  # fmt: skip
        if registered:  # the keys, so that the batched lane finds them too
            await self._to_outbox(spec, registered)
        jobs: list[Job] = []
        for index, key in enumerate(keys):
            if index in ids:
                jobs.append(Job(id=ids[index], job_type=spec.name))
            else:
                holder = held[key or ""]
                jobs.append(Job(id=UUID(holder.id), job_type=holder.job_type))
        return jobs

    async def _key_holders(self, keys: Sequence[str | None]) -> dict[str, outbox.Added]:
        """The jobs already holding any of ``keys`` in the outbox (either lane's)."""
        from sqlalchemy.exc import SQLAlchemyError

        from jobs import outbox

        wanted = [key for key in keys if key is not None]
        if not wanted:
            return {}
        try:
            return await asyncio.to_thread(
                outbox.key_holders, wanted, self.settings.app_database_url
            )
        except SQLAlchemyError as exc:
            raise SubmitFailed(self._outbox_failure("look up idempotency keys", exc)) from exc

    async def _to_outbox(
        self, spec: registry.JobType, jobs: Sequence[outbox.NewJob]
    ) -> list[outbox.Added]:
        from sqlalchemy.exc import SQLAlchemyError

        from jobs import outbox

        try:
            return await asyncio.to_thread(outbox.add_now, jobs, self.settings.app_database_url)
        except SQLAlchemyError as exc:
            raise SubmitFailed(self._outbox_failure(f"submit {spec.name} jobs", exc)) from exc

    def _outbox_failure(self, doing: str, exc: Exception) -> str:
        where = self.settings.app_database_url
        hint = ""
        if "no such table" in str(exc) or "does not exist" in str(exc):
            hint = " (its tables are made by `python -m jobs migrate`, which `make up` runs)"
        return f"could not {doing} to the outbox in the database {where}{hint}: {exc}"

    def _validated(
        self, job_type: str | None, params_list: Sequence[Any], *, batch: bool = True
    ) -> tuple[registry.JobType, list[JobParams]]:
        """The job type and the checked parameters; messages name a batch's jobs by index."""
        if job_type is None:
            spec = registry.job_type_of(params_list[0])
        else:
            spec = registry.job_type(job_type)
        models = [
            registry.validate(spec, params, index if batch else None)
            for index, params in enumerate(params_list)
        ]
        for index, model in enumerate(models):
            size = len(json.dumps(model.model_dump(mode="json")))
            if size > self.settings.max_params_bytes:
                which = f" #{index}" if batch else ""
                raise InvalidJobParams(
                    f"{spec.name} job parameters{which} are {size} bytes as JSON; "
                    f"at most {self.settings.max_params_bytes} are accepted"
                )
        return spec, models

    async def _deployment_id(
        self, client: PrefectClient, spec: registry.JobType, error: type[JobsError] = SubmitFailed
    ) -> UUID:
        try:
            deployment = await client.read_deployment_by_name(spec.deployment_name)
        except ObjectNotFound:
            raise error(
                f"{spec.name} jobs are not deployed: no deployment {spec.deployment_name!r} "
                f"on {self.settings.api_url} (run `make up`, or `prefect deploy --all`)"
            ) from None
        return deployment.id


def checked_one(
    job_type: str | JobParams, params: Params | None, **options: Any
) -> tuple[str | None, list[Any], SubmitOptions]:
    """One job's type and options checked, as ``submit`` and ``jobs.enqueue`` take them: the
    job type's name (None when a model names it), its parameters as a one-item list, and the
    options; InvalidJobParams for anything refused, before anything is written."""
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
    checked = SubmitOptions.checked(**options)
    name = job_type if isinstance(job_type, str) else None
    return name, [params if params is not None else job_type], checked


def lane_of(spec: registry.JobType, options: SubmitOptions) -> Lane:
    """The lane a submit's jobs take: the one asked for, else the job type's."""
    lane = options.lane or spec.lane
    if lane is Lane.BATCH and not spec.batchable:
        batchable = ", ".join(name for name, t in registry.JOB_TYPES.items() if t.batchable)
        raise InvalidJobParams(
            f"lane: expected 'flow' for {spec.name} jobs (the batched lane takes {batchable}), "
            "got 'batch'"
        )
    return lane


def outbox_jobs(
    spec: registry.JobType, models: Sequence[JobParams], options: SubmitOptions, lane: Lane
) -> list[outbox.NewJob]:
    """The outbox rows of checked jobs."""
    from jobs import outbox

    tags = sorted(set(options.tags))
    when = options.start_time()
    debounce = (options.debounce[0], float(options.debounce[1])) if options.debounce else None
    return [
        outbox.NewJob(
            spec.name, lane, model.model_dump(mode="json"), options.priority, tags,
            run_at=when, idempotency_key=key, debounce=debounce,
            fairness_key=options.fairness_key,
        )
        for model, key in zip(models, options.keys(len(models)), strict=True)
    ]  # fmt: skip
