"""The outbox on a real SQLite database: order of hand-over, idempotency and debounce keys."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from jobs import outbox
from jobs.db.models import QueuedJob, QueueState, utcnow


def job(note: str, priority: int = 5, **more: object) -> outbox.NewJob:
    return outbox.NewJob("ping", "batch", {"note": note}, priority, [], **more)  # type: ignore[arg-type]


def notes(engine: Engine, limit: int) -> list[str]:
    with Session(engine) as db:
        return [row.params["note"] for row in outbox.due(db, utcnow(), None, limit)]


def test_urgent_jobs_are_handed_over_first_then_the_oldest(engine: Engine) -> None:
    with Session(engine) as db, db.begin():
        outbox.add(db, [job("normal-1"), job("low", priority=10), job("normal-2")])
        outbox.add(db, [job("urgent", priority=1)])

    assert notes(engine, 10) == ["urgent", "normal-1", "normal-2", "low"]


def test_a_burst_of_one_fairness_key_does_not_starve_another(engine: Engine) -> None:
    with Session(engine) as db, db.begin():
        outbox.add(db, [job(f"a-{i}", fairness_key="tenant-a") for i in range(50)])
        outbox.add(db, [job("b-0", fairness_key="tenant-b"), job("b-1", fairness_key="tenant-b")])
        outbox.add(db, [job("c-0", fairness_key="tenant-c")])

    assert notes(engine, 6) == ["a-0", "b-0", "c-0", "a-1", "b-1", "a-2"]


def test_jobs_not_due_wait(engine: Engine) -> None:
    with Session(engine) as db, db.begin():
        outbox.add(db, [job("later", run_at=utcnow() + timedelta(hours=1)), job("now")])

    assert notes(engine, 10) == ["now"]


def test_an_idempotency_key_names_one_job(engine: Engine) -> None:
    with Session(engine) as db, db.begin():
        [first] = outbox.add(db, [job("first", idempotency_key="k")])
    with Session(engine) as db, db.begin():
        [again, other] = outbox.add(
            db, [job("again", idempotency_key="k"), job("other", idempotency_key="k2")]
        )

    assert again.id == first.id
    assert other.id != first.id
    assert notes(engine, 10) == ["first", "other"]


def test_debounced_jobs_collapse_into_the_first_with_the_last_parameters(engine: Engine) -> None:
    ids = []
    for n in range(4):
        with Session(engine) as db, db.begin():
            [added] = outbox.add(db, [job(f"v{n}", debounce=("d", 60.0))])
            ids.append(added.id)

    assert len(set(ids)) == 1
    with Session(engine) as db:
        row = db.get(QueuedJob, ids[0])
        assert row is not None
        assert row.params == {"note": "v3"}
        assert outbox.aware(row.run_at) > utcnow() + timedelta(seconds=50)  # due when it ends
    with Session(engine) as db, db.begin():  # once handed over, the key starts a new job
        db.execute(update(QueuedJob).values(state=QueueState.ASSIGNED))
        [fresh] = outbox.add(db, [job("v4", debounce=("d", 60.0))])
    assert fresh.id != ids[0]
