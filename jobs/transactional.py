"""Transactional enqueue: a job written inside the application's own database transaction.

``jobs.enqueue(session, "email", {...})`` adds the job to the outbox (:mod:`jobs.outbox`) in the
session's transaction: when the application commits, the job is committed with its data and
the relay hands it to Prefect (and it runs once); when it rolls back, the job never existed.
The session must be on the jobs' application database (``JOBS_DATABASE_URL``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from jobs import outbox, registry
from jobs.settings import get_settings
from jobs.status import Job, Lane
from jobs.submitter import Params, Submitter, Tags, checked_one, lane_of, outbox_jobs


def enqueue(
    session: Session,
    job_type: str | Any,
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
    """Add a job in ``session``'s transaction; it runs once if the transaction commits.

    Takes what :meth:`jobs.Client.submit` takes, checked the same way (InvalidJobParams, and
    nothing is written); returns the job's handle, which the client can follow once committed.
    A job of any type may be enqueued; batched ones are packed into batches by the relay.
    """
    if not isinstance(session, Session):
        raise TypeError(f"session: expected a sqlalchemy.orm.Session, got {type(session)!r}")
    name, params_list, options = checked_one(
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
    spec, models = Submitter(get_settings())._validated(name, params_list, batch=False)
    [added] = outbox.add(session, outbox_jobs(spec, models, options, lane_of(spec, options)))
    return Job(id=UUID(added.id), job_type=added.job_type)


async def enqueue_async(
    session: AsyncSession,
    job_type: str | Any,
    params: Params | None = None,
    **options: Any,
) -> Job:
    """:func:`enqueue` in an ``AsyncSession``'s transaction."""
    if not isinstance(session, AsyncSession):
        raise TypeError(f"session: expected a sqlalchemy AsyncSession, got {type(session)!r}")
    return await session.run_sync(
        lambda sync_session: enqueue(sync_session, job_type, params, **options)
    )
