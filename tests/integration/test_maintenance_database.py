"""Database cleanup on a real SQLite database, migrated like the app's (its own file, so the
session's app database keeps other tests' rows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, insert, select

from jobs.db.models import (
    EffectStatus,
    HttpAttempt,
    LoginSession,
    QueuedJob,
    SideEffect,
    User,
)
from jobs.maintenance.database import cleanup
from jobs.outbox import FINAL
from jobs.settings import Settings

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def fill(engine: Engine) -> None:
    """Per table, rows just past and just within what the cleanup keeps."""
    with engine.begin() as db:
        db.execute(insert(User).values(id=1, email="a@example.com", name="A", created_at=NOW))
        expiries = [NOW - timedelta(days=2), NOW - timedelta(seconds=1), NOW + timedelta(hours=1)]
        sessions = [
            {"user_id": 1, "token": f"t{i}", "expires_at": e} for i, e in enumerate(expiries)
        ]
        db.execute(insert(LoginSession), sessions)
        ledger = [(f"old-{i}", NOW - timedelta(days=91)) for i in range(3)]
        ledger += [("recent", NOW - timedelta(days=89))]
        db.execute(
            insert(SideEffect),
            [
                {"key": key, "kind": "email", "status": EffectStatus.DONE, "updated_at": when}
                for key, when in ledger
            ],
        )
        attempts = [NOW - timedelta(days=31), NOW - timedelta(days=29)]
        db.execute(
            insert(HttpAttempt),
            [
                {"method": "POST", "url": "https://x.test/", "attempt": 1, "created_at": t}
                for t in attempts
            ],
        )
        finished = [  # (state, lane, days ago): old finished jobs and old flow-lane keys go
            ("completed", "batch", 8), ("completed", "batch", 6), ("cancelled", "batch", 8),
            ("failed", "batch", 31), ("failed", "batch", 29), ("queued", "batch", 40),
            ("dispatched", "flow", 31), ("dispatched", "batch", 31),
        ]  # fmt: skip
        db.execute(
            insert(QueuedJob),
            [
                {
                    "id": f"job-{i}", "job_type": "ping", "lane": lane, "params": {},
                    "priority": 5, "tags": [], "run_at": NOW - timedelta(days=days),
                    "state": state, "attempts": 1, "cancel_requested": False,
                    "created_at": NOW - timedelta(days=days),
                    "finished_at": NOW - timedelta(days=days) if state in FINAL else None,
                }
                for i, (state, lane, days) in enumerate(finished)
            ],
        )  # fmt: skip


def count(engine: Engine, model: type[object]) -> int:
    with engine.connect() as db:
        return int(db.scalar(select(func.count()).select_from(model)) or 0)


def test_expired_sessions_and_old_records_go_in_chunks_then_sqlite_is_vacuumed(
    engine: Engine, settings: Settings
) -> None:
    fill(engine)
    policy = settings.model_copy(
        update={
            "side_effects_retention_days": 90,
            "http_attempts_retention_days": 30,
            "retention_completed_days": 7,
            "retention_failed_days": 30,
        }
    )

    outcome = cleanup(policy, batch_size=2, now=NOW, engine=engine)

    assert outcome["deleted"] == {
        "sessions": 2,
        "side_effects": 3,
        "http_attempts": 1,
        "queued_jobs": 4,
    }
    assert outcome["optimized"] == ["VACUUM", "ANALYZE"]
    with engine.connect() as db:
        assert db.scalars(select(LoginSession.token)).all() == ["t2"]
        assert db.scalars(select(SideEffect.key)).all() == ["recent"]
        assert db.scalar(select(func.count()).select_from(HttpAttempt)) == 1
        kept = db.scalars(select(QueuedJob.id).order_by(QueuedJob.id)).all()
        assert kept == ["job-1", "job-4", "job-5", "job-7"]  # recent, unfinished, not a key
        assert db.exec_driver_sql("SELECT count(*) FROM sqlite_stat1").scalar()  # ANALYZE ran
    assert count(engine, User) == 1


def test_a_second_run_finds_nothing_more_to_delete(engine: Engine, settings: Settings) -> None:
    fill(engine)
    cleanup(settings, now=NOW, engine=engine, vacuum=False)

    again = cleanup(settings, now=NOW, engine=engine, vacuum=False)

    assert again == {
        "deleted": {"sessions": 0, "side_effects": 0, "http_attempts": 0, "queued_jobs": 0},
        "optimized": [],
    }
