"""Ledger of side effects: each keyed effect happens at most once, however often a job runs.

Claim a key before the effect, then settle it as done, failed or rejected; failed and rejected
keys may be claimed again by a later attempt. A key left pending by an attempt that died
mid-effect is never tried again: its outcome is unknown, and at most once is the promise.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jobs.db.engine import session, through_outages
from jobs.db.models import EffectStatus, SideEffect, utcnow


class Claim(StrEnum):
    """What a claim found."""

    GO = "go"  # the caller owns the effect now
    DONE = "done"  # it already happened
    UNKNOWN = "unknown"  # an earlier (or concurrent) attempt is mid-effect or died there


@through_outages
def claim(key: str, kind: str, job_id: str | None = None) -> Claim:
    """Take ``key`` for one attempt at the effect, unless it happened or may have happened."""
    try:
        with session() as db, db.begin():
            return _claim(db, key, kind, job_id)
    except IntegrityError:
        return Claim.UNKNOWN  # a concurrent attempt inserted it first


def _claim(db: Session, key: str, kind: str, job_id: str | None) -> Claim:
    retryable = (EffectStatus.FAILED, EffectStatus.REJECTED)
    reopened = db.execute(
        update(SideEffect)
        .where(SideEffect.key == key, SideEffect.status.in_(retryable))
        .values(status=EffectStatus.PENDING, attempts=SideEffect.attempts + 1, job_id=job_id)
    )
    if reopened.rowcount:  # type: ignore[attr-defined]
        return Claim.GO
    row = db.get(SideEffect, key)
    if row is None:
        db.add(SideEffect(key=key, kind=kind, status=EffectStatus.PENDING, job_id=job_id))
        db.flush()
        return Claim.GO
    return Claim.DONE if row.status == EffectStatus.DONE else Claim.UNKNOWN


@through_outages
def settle(key: str, status: EffectStatus, detail: str | None = None) -> None:
    """Record how the claimed effect ended."""
    with session() as db, db.begin():
        db.execute(
            update(SideEffect)
            .where(SideEffect.key == key)
            .values(status=status, detail=detail, updated_at=utcnow())
        )


@through_outages
def status_of(keys: list[str]) -> dict[str, EffectStatus]:
    """The recorded status of each key that has a row."""
    with session() as db:
        rows = db.execute(select(SideEffect.key, SideEffect.status).where(SideEffect.key.in_(keys)))
        return {key: EffectStatus(status) for key, status in rows}
