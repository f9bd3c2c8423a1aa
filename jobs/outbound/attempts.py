"""The ``http_attempts`` table: one row per attempt at an outgoing call."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from jobs.db.engine import session
from jobs.db.models import HttpAttempt
from jobs.outbound.transport import Outgoing


@dataclass(frozen=True)
class Caller:
    """Whose attempts these are: the job, and the webhook endpoint if there is one."""

    job_id: str
    endpoint_id: int | None = None


def next_number(job_id: str) -> int:
    """The number of the job's next attempt (1 for the first)."""
    with session() as db:
        count = db.scalar(select(func.count()).where(HttpAttempt.job_id == job_id))
    return int(count or 0) + 1


def record(
    caller: Caller,
    number: int,
    request: Outgoing,
    status_code: int | None,
    latency_ms: float,
    error: str | None = None,
) -> None:
    """Store one attempt's outcome."""
    row = HttpAttempt(
        job_id=caller.job_id,
        endpoint_id=caller.endpoint_id,
        method=request.method,
        url=request.url[:2000],
        attempt=number,
        status_code=status_code,
        latency_ms=round(latency_ms, 3),
        error=error,
    )
    with session() as db, db.begin():
        db.add(row)


def of_job(job_id: str) -> list[HttpAttempt]:
    """The job's attempts, first first."""
    with session() as db:
        query = select(HttpAttempt).where(HttpAttempt.job_id == job_id).order_by(HttpAttempt.id)
        return list(db.scalars(query))
