"""Application database cleanup: expired sessions and old records go, in bounded chunks; then
the database's statistics (and, on SQLite, its file) are refreshed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, delete, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from jobs import runlog
from jobs.db.engine import get_engine
from jobs.db.models import HttpAttempt, LoginSession, QueuedJob, QueueState, SideEffect
from jobs.settings import Settings


@dataclass(frozen=True)
class Target:
    """Rows of one table to delete: those matching ``condition``, chunked by ``key``."""

    table: str
    key: InstrumentedAttribute[Any]
    condition: ColumnElement[bool]


def targets(settings: Settings, now: datetime) -> list[Target]:
    """What the cleanup deletes, as of ``now``."""
    ledger_cutoff = now - timedelta(days=settings.side_effects_retention_days)
    attempts_cutoff = now - timedelta(days=settings.http_attempts_retention_days)
    done_cutoff = now - timedelta(days=settings.retention_completed_days)
    failed_cutoff = now - timedelta(days=settings.retention_failed_days)
    finished_outbox_jobs = or_(  # kept as long as job runs are (JOBS_RETENTION_*)
        (QueuedJob.state.in_([QueueState.COMPLETED, QueueState.CANCELLED]))
        & (QueuedJob.finished_at < done_cutoff),
        (QueuedJob.state == QueueState.FAILED) & (QueuedJob.finished_at < failed_cutoff),
        # the idempotency keys of flow-lane jobs, whose runs the retention job prunes
        (QueuedJob.state == QueueState.DISPATCHED)
        & (QueuedJob.lane == "flow")
        & (QueuedJob.created_at < failed_cutoff),
    )
    return [
        Target("sessions", LoginSession.id, LoginSession.expires_at < now),
        Target("side_effects", SideEffect.key, SideEffect.updated_at < ledger_cutoff),
        Target("http_attempts", HttpAttempt.id, HttpAttempt.created_at < attempts_cutoff),
        Target("queued_jobs", QueuedJob.id, finished_outbox_jobs),
    ]


def delete_chunk(engine: Engine, target: Target, size: int) -> int:
    """Delete up to ``size`` matching rows in one transaction; how many went."""
    chosen = select(target.key).where(target.condition).limit(size).scalar_subquery()
    with engine.begin() as db:
        result = db.execute(delete(target.key.class_).where(target.key.in_(chosen)))
        return int(result.rowcount)


def delete_all(engine: Engine, target: Target, size: int) -> int:
    """Delete every matching row, ``size`` per transaction, so no lock is held for long."""
    total = 0
    while (deleted := delete_chunk(engine, target, size)) > 0:
        total += deleted
        if deleted < size:
            break
    return total


def optimize(engine: Engine) -> list[str]:
    """Refresh the planner's statistics, and on SQLite give freed pages back; what ran."""
    statements = {"sqlite": ["VACUUM", "ANALYZE"], "postgresql": ["ANALYZE"]}
    ran = statements.get(engine.dialect.name, [])
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for statement in ran:
            conn.exec_driver_sql(statement)
    return ran


def cleanup(
    settings: Settings,
    *,
    batch_size: int = 5000,
    vacuum: bool = True,
    now: datetime | None = None,
    engine: Engine | None = None,
) -> dict[str, Any]:
    """Delete what :func:`targets` names, then optimize; rows deleted per table and what ran."""
    engine = engine or get_engine()
    moment = now or datetime.now(UTC)
    deleted = {t.table: delete_all(engine, t, batch_size) for t in targets(settings, moment)}
    optimized = optimize(engine) if vacuum else []
    runlog.logger(__name__).info(
        "Deleted %s; ran %s",
        ", ".join(f"{count} rows of {table}" for table, count in deleted.items()),
        " + ".join(optimized) or "no VACUUM/ANALYZE",
    )
    return {"deleted": deleted, "optimized": optimized}
