"""Submitting jobs: the part of the client that domain code starting follow-up jobs uses.

:class:`jobs.Client` is a :class:`Submitter` that also follows, retries, cancels and counts
jobs; a job that submits other jobs (the weekly report's email, the renewals' charges) uses a
Submitter of the server its run came from (:meth:`Submitter.of_this_run`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from prefect.client.orchestration import PrefectClient
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

from jobs import creation, registry
from jobs.aio import run_sync
from jobs.errors import InvalidJobParams, JobsError, SubmitFailed, received
from jobs.options import SubmitOptions
from jobs.params import JobParams
from jobs.settings import Settings, get_settings
from jobs.status import Job

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
            async with PrefectClient(self.settings.api_url) as client:
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
        job_type_name = job_type if isinstance(job_type, str) else None
        params_list = [params if params is not None else job_type]
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
        return run_sync(
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
        spec, models = self._validated(job_type, params_list, batch=batch)
        queue = registry.queue_for(options.priority)
        when = options.start_time()
        all_tags = sorted({*options.tags, f"job:{spec.name}"})
        creates = [
            creation.run_create(model.model_dump(mode="json"), key, when, all_tags, queue)
            for model, key in zip(models, options.keys(len(models)), strict=True)
        ]
        async with self._prefect(f"submit {spec.name} jobs") as client:
            deployment_id = await self._deployment_id(client, spec)
            ids = await creation.create_runs(client, deployment_id, creates, self.concurrency)
        return [Job(id=run_id, job_type=spec.name) for run_id in ids]

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
