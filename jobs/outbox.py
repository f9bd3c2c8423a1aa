"""The outbox: jobs held in the application database until the relay hands them to Prefect.

Every batched job lives here (its row is its record: state, attempts, failure reason), as does
every job enqueued inside an application transaction, every debounced or fairness-keyed job,
and the idempotency key of every keyed job of either lane, so a key means one job whichever
way it was submitted. A row moves ``queued`` → ``assigned`` (packed by the relay) →
``dispatched`` (its flow run exists) → ``running`` → ``completed``/``failed``/``cancelled``.

The functions here are plain SQL on one table, sync; :func:`add` also takes an application's
own session, which is what makes an enqueue transactional.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from sqlalchemy import Insert, bindparam, case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from jobs.db.engine import session, through_outages
from jobs.db.models import NOT_STARTED, UNFINISHED, QueuedJob, QueueState, utcnow

FINAL = (QueueState.COMPLETED, QueueState.FAILED, QueueState.CANCELLED)


@dataclass(frozen=True)
class NewJob:
    """One job to add to the outbox."""

    job_type: str
    lane: str  # jobs.status.Lane
    params: dict[str, Any]
    priority: int
    tags: list[str]
    run_at: datetime | None = None  # None: now
    idempotency_key: str | None = None
    debounce: tuple[str, float] | None = None  # (key, seconds)
    fairness_key: str | None = None
    id: str | None = None  # chosen by the caller (a flow-lane job's flow run id), else new
    state: QueueState = QueueState.QUEUED
    run_id: str | None = None

    def row(self, now: datetime) -> dict[str, Any]:
        run_at = self.run_at or now
        debounce_key = None
        if self.debounce is not None:
            debounce_key = self.debounce[0]
            run_at = max(run_at, now + timedelta(seconds=self.debounce[1]))
        return {
            "id": self.id or str(uuid4()),
            "job_type": self.job_type,
            "lane": self.lane,
            "params": self.params,
            "priority": self.priority,
            "tags": self.tags,
            "run_at": run_at,
            "idempotency_key": self.idempotency_key,
            "debounce_key": debounce_key,
            "fairness_key": self.fairness_key,
            "state": self.state,
            "run_id": self.run_id,
            "attempts": 0,
            "cancel_requested": False,
            "created_at": now,
        }


@dataclass(frozen=True)
class Added:
    """A job as :func:`add` found it: new, or the one an idempotency or debounce key names."""

    id: str
    job_type: str
    lane: str
    run_id: str | None


def aware(moment: datetime) -> datetime:
    """A timestamp read back from the database, in UTC (SQLite gives it without a zone)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _insert(db: Session) -> Any:
    """The dialect's INSERT into the table (Core: the ORM's bulk path costs ~1 ms a call)."""
    dialect = db.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    return module.insert(QueuedJob.__table__)


def add(db: Session, jobs: Sequence[NewJob]) -> list[Added]:
    """Add ``jobs`` in the caller's transaction; the outcome of each, in order.

    A job whose idempotency key is taken is not added: the job holding the key is returned. A
    job whose debounce key is held by a job still queued replaces that job's parameters and
    tags and is returned as it (the window runs from the first submit); otherwise it is added,
    due when its window ends.
    """
    now = utcnow()  # a microsecond apart: jobs added together keep their order
    rows = [job.row(now + timedelta(microseconds=index)) for index, job in enumerate(jobs)]
    _take_turns(db, rows)
    plain = [row for row in rows if row["idempotency_key"] is None and not row["debounce_key"]]
    keyed = [row for row in rows if row["idempotency_key"] is not None]
    found: dict[str, Added] = {}
    connection = db.connection()
    if plain:
        connection.execute(_insert(db), plain)
    if keyed:
        connection.execute(
            _insert(db).on_conflict_do_nothing(index_elements=["idempotency_key"]), keyed
        )
        holders = db.execute(
            select(QueuedJob.idempotency_key, QueuedJob.id, QueuedJob.job_type,
                   QueuedJob.lane, QueuedJob.run_id)
            .where(QueuedJob.idempotency_key.in_([row["idempotency_key"] for row in keyed]))
        )  # fmt: skip
        by_key = {key: Added(job_id, job_type, lane, run_id)
                  for key, job_id, job_type, lane, run_id in holders}  # fmt: skip
        for row in keyed:
            found[row["id"]] = by_key[row["idempotency_key"]]
    for row in rows:
        if row["debounce_key"]:
            statement: Insert = _insert(db)
            statement = statement.on_conflict_do_update(  # type: ignore[attr-defined]
                index_elements=["debounce_key"],
                index_where=QueuedJob.state == QueueState.QUEUED,
                set_={"params": statement.excluded.params, "tags": statement.excluded.tags},  # type: ignore[attr-defined]
            ).returning(_TABLE.c.id)
            job_id = connection.execute(statement, row).scalar_one()
            found[row["id"]] = Added(job_id, row["job_type"], row["lane"], None)
    return [
        found.get(row["id"]) or Added(row["id"], row["job_type"], row["lane"], row["run_id"])
        for row in rows
    ]


_TABLE = QueuedJob.__table__
_WAITING = (
    (_TABLE.c.job_type == bindparam("job_type"))
    & (_TABLE.c.priority == bindparam("priority"))
    & (_TABLE.c.state == QueueState.QUEUED)
)
_LAST_TURN = {  # by whether the job has a fairness key; prepared once, run per add
    False: select(func.max(_TABLE.c.turn)).where(_WAITING, _TABLE.c.fairness_key.is_(None)),
    True: select(func.max(_TABLE.c.turn)).where(
        _WAITING, _TABLE.c.fairness_key == bindparam("fairness_key")
    ),
}


def _take_turns(db: Session, rows: list[dict[str, Any]]) -> None:
    """Give each row its turn: one past the last turn of the queued jobs of its job type,
    priority and fairness key (1 when none waits). The relay hands jobs over by turn within a
    priority, so every key's first waiting job goes before any key's second: a burst of one
    key cannot push another key's jobs back."""
    last: dict[tuple[str, int, str | None], int] = {}
    connection = db.connection()
    for row in rows:
        key = (row["job_type"], row["priority"], row["fairness_key"])
        if key not in last:
            job_type, priority, fairness_key = key
            found = connection.execute(
                _LAST_TURN[fairness_key is not None],
                {"job_type": job_type, "priority": priority, "fairness_key": fairness_key},
            ).scalar()
            last[key] = found or 0
        last[key] += 1
        row["turn"] = last[key]


def add_now(jobs: Sequence[NewJob], url: str | None = None) -> list[Added]:
    """:func:`add` in a transaction of its own."""
    with session(url) as db, db.begin():
        return add(db, jobs)


def key_holders(keys: Sequence[str], url: str | None = None) -> dict[str, Added]:
    """The jobs that hold any of ``keys``, by key."""
    with session(url) as db:
        rows = db.execute(
            select(QueuedJob.idempotency_key, QueuedJob.id, QueuedJob.job_type, QueuedJob.lane,
                   QueuedJob.run_id)
            .where(QueuedJob.idempotency_key.in_(list(keys)))
        )  # fmt: skip
        return {key: Added(job_id, job_type, lane, run_id)
                for key, job_id, job_type, lane, run_id in rows if key}  # fmt: skip


def get(job_id: str, url: str | None = None) -> QueuedJob | None:
    """The outbox row of a job, if it has one."""
    with session(url) as db:
        return db.get(QueuedJob, job_id)


# -- the relay -------------------------------------------------------------------------------


def due(db: Session, now: datetime, types: Iterable[str] | None, limit: int) -> list[QueuedJob]:
    """Queued jobs that are due, urgent first; within a priority, round-robin across fairness
    keys (every key's first waiting job, then every key's second, ...: their turns), oldest
    first within a turn.

    ``types``: only jobs of these types (None: any).
    """
    chosen = (
        select(QueuedJob.id)
        .where(QueuedJob.state == QueueState.QUEUED, QueuedJob.run_at <= now)
        .order_by(QueuedJob.priority, QueuedJob.turn, QueuedJob.created_at)
        .limit(limit)
    )
    if types is not None:
        chosen = chosen.where(QueuedJob.job_type.in_(list(types)))
    ids = list(db.scalars(chosen))
    if not ids:
        return []
    rows = select(QueuedJob).where(QueuedJob.id.in_(ids), QueuedJob.state == QueueState.QUEUED)
    if db.get_bind().dialect.name == "postgresql":
        rows = rows.with_for_update(skip_locked=True)
    order = {job_id: index for index, job_id in enumerate(ids)}
    return sorted(db.scalars(rows), key=lambda row: order[row.id])


def next_due(db: Session) -> datetime | None:
    """When the earliest queued job falls due."""
    earliest = db.scalar(
        select(func.min(QueuedJob.run_at)).where(QueuedJob.state == QueueState.QUEUED)
    )
    return aware(earliest) if earliest else None


def batches_in_flight(db: Session) -> Counter[str]:
    """Per job type, the batches handed out and not yet finished."""
    rows = db.execute(
        select(QueuedJob.job_type, func.count(func.distinct(QueuedJob.batch_id)))
        .where(QueuedJob.state.in_([QueueState.ASSIGNED, QueueState.DISPATCHED,
                                    QueueState.RUNNING]),
               QueuedJob.batch_id.is_not(None), QueuedJob.lane == "batch")
        .group_by(QueuedJob.job_type)
    )  # fmt: skip
    return Counter({job_type: count for job_type, count in rows})


def assign(db: Session, job_ids: Sequence[str], batch_id: str) -> int:
    """Pack queued jobs into a batch (or, for one flow-lane job, its own run); the count."""
    result = db.execute(
        update(QueuedJob)
        .where(QueuedJob.id.in_(list(job_ids)), QueuedJob.state == QueueState.QUEUED)
        .values(state=QueueState.ASSIGNED, batch_id=batch_id)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def assigned(db: Session) -> dict[str, list[QueuedJob]]:
    """Jobs packed whose flow run is not known to exist yet, by batch (after a relay crash,
    those of its last round)."""
    rows = db.scalars(
        select(QueuedJob)
        .where(QueuedJob.state == QueueState.ASSIGNED)
        .order_by(QueuedJob.priority, QueuedJob.created_at)
    )
    batches: dict[str, list[QueuedJob]] = {}
    for row in rows:
        batches.setdefault(row.batch_id or row.id, []).append(row)
    return batches


def dispatched(db: Session, batch_id: str, run_id: str) -> None:
    """The batch's flow run exists."""
    db.execute(
        update(QueuedJob)
        .where(QueuedJob.batch_id == batch_id, QueuedJob.state == QueueState.ASSIGNED)
        .values(state=QueueState.DISPATCHED, run_id=run_id)
        .execution_options(synchronize_session=False)
    )


# -- a batch running ---------------------------------------------------------------------------


@through_outages
def batch_jobs(batch_id: str) -> list[QueuedJob]:
    """A batch's unfinished jobs, in the order they were packed (urgent, then oldest first)."""
    with session() as db:
        rows = db.scalars(
            select(QueuedJob)
            .where(QueuedJob.batch_id == batch_id, QueuedJob.state.in_(UNFINISHED))
            .order_by(QueuedJob.priority, QueuedJob.created_at)
        )
        return list(rows)


@through_outages
def start(job_id: str, run_id: str | None) -> bool:
    """Mark a job running, unless it was cancelled (or finished) first; whether to run it."""
    with session() as db, db.begin():
        result = db.execute(
            update(QueuedJob)
            .where(QueuedJob.id == job_id,
                   QueuedJob.state.in_([QueueState.DISPATCHED, QueueState.RUNNING,
                                        QueueState.ASSIGNED]),
                   QueuedJob.cancel_requested.is_(False))
            .values(state=QueueState.RUNNING, started_at=utcnow(), run_id=run_id)
        )  # fmt: skip
        return bool(result.rowcount)  # type: ignore[attr-defined]


@through_outages
def finish(job_id: str, state: QueueState, attempts: int, reason: str | None = None) -> None:
    """Record how a job ended."""
    with session() as db, db.begin():
        db.execute(
            update(QueuedJob)
            .where(QueuedJob.id == job_id)
            .values(
                state=state,
                attempts=QueuedJob.attempts + attempts,
                failure_reason=reason,
                finished_at=utcnow(),
            )
        )


def abandon(run_id: str, state: QueueState, reason: str, url: str | None = None) -> int:
    """Settle the unfinished jobs of a batch run that ended without them; how many."""
    with session(url) as db, db.begin():
        result = db.execute(
            update(QueuedJob)
            .where(QueuedJob.run_id == run_id,
                   QueuedJob.state.in_([QueueState.DISPATCHED, QueueState.RUNNING]))
            .values(state=state, failure_reason=reason, finished_at=utcnow())
        )  # fmt: skip
        return int(result.rowcount)  # type: ignore[attr-defined]


@through_outages
def cancels(batch_id: str) -> set[str]:
    """The batch's jobs whose cancellation was asked for while they ran."""
    with session() as db:
        rows = db.scalars(
            select(QueuedJob.id).where(
                QueuedJob.batch_id == batch_id,
                QueuedJob.state == QueueState.RUNNING,
                QueuedJob.cancel_requested.is_(True),
            )
        )
        return set(rows)


# -- the client --------------------------------------------------------------------------------


def cancel(job_id: str, message: str, url: str | None = None) -> QueueState | None:
    """Cancel a job: at once if it has not started; a running one is asked to stop (its
    batch stops it before its next attempt). The state it was in; None if unknown."""
    with session(url) as db, db.begin():
        row = db.get(QueuedJob, job_id)
        if row is None:
            return None
        before = QueueState(row.state)
        if before in NOT_STARTED:
            db.execute(
                update(QueuedJob)
                .where(QueuedJob.id == job_id, QueuedJob.state.in_(NOT_STARTED))
                .values(state=QueueState.CANCELLED, failure_reason=message, finished_at=utcnow())
            )
        elif before == QueueState.RUNNING:
            row.cancel_requested = True
        return before


def retry(job_id: str, url: str | None = None) -> QueueState | None:
    """Queue a failed or cancelled job again (same id); the state it was in."""
    with session(url) as db, db.begin():
        row = db.get(QueuedJob, job_id)
        if row is None:
            return None
        before = QueueState(row.state)
        if before in (QueueState.FAILED, QueueState.CANCELLED):
            row.state = QueueState.QUEUED
            row.run_at = utcnow()
            row.batch_id = row.run_id = row.failure_reason = row.finished_at = None
            row.cancel_requested = False
        return before


def counts(job_type: str, lane: str, url: str | None = None) -> dict[str, int]:
    """How many of a job type's outbox jobs of ``lane`` are in each state; queued ones split
    into ``delayed`` (not due yet) and ``queued``."""
    now = utcnow()
    with session(url) as db:
        state = case(
            (
                (QueuedJob.state == QueueState.QUEUED) & (QueuedJob.run_at > now),
                "delayed",
            ),
            else_=QueuedJob.state,
        )
        rows = db.execute(
            select(state, func.count())
            .where(QueuedJob.job_type == job_type, QueuedJob.lane == lane)
            .group_by(state)
        )
        return {str(name): int(count) for name, count in rows}


def batch_rows(batch_id: str) -> list[QueuedJob]:
    """Every job of a batch, in the order they were packed."""
    with session() as db:
        rows = db.scalars(
            select(QueuedJob)
            .where(QueuedJob.batch_id == batch_id)
            .order_by(QueuedJob.priority, QueuedJob.created_at)
        )
        return list(rows)


# -- dead letters and metrics ------------------------------------------------------------------

_FOLLOWED_HERE = (QueuedJob.lane == "batch") | QueuedJob.run_id.is_(None)
"""Rows that are their job's record: batched jobs, and flow-lane jobs not handed over yet (a
flow-lane row with a run is only its key's holder; the run is the record)."""
_LANES = QueuedJob.lane.in_(["batch", "flow"])  # every lane: lets ix_queued_jobs_finished serve


def failed(
    job_type: str | None,
    reason: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    url: str | None = None,
) -> list[QueuedJob]:
    """Failed jobs the outbox follows, newest end first: of ``job_type`` (None: any), whose
    failure reason contains ``reason`` (any case), ended in ``[since, until)``; at most
    ``limit`` (read through ix_queued_jobs_finished: failed rows in the window only)."""
    query = (
        select(QueuedJob)
        .where(QueuedJob.state == QueueState.FAILED, _LANES, _FOLLOWED_HERE)
        .order_by(QueuedJob.finished_at.desc())
        .limit(limit)
    )
    if job_type is not None:
        query = query.where(QueuedJob.job_type == job_type)
    if reason is not None:
        query = query.where(QueuedJob.failure_reason.icontains(reason, autoescape=True))
    if since is not None:
        query = query.where(QueuedJob.finished_at >= since.astimezone(UTC))
    if until is not None:
        query = query.where(QueuedJob.finished_at < until.astimezone(UTC))
    with session(url) as db:
        return list(db.scalars(query))


@dataclass(frozen=True)
class Depth:
    """How many unfinished jobs the outbox follows in one group, and the earliest due time."""

    job_type: str
    priority: int
    lane: str
    state: QueueState
    later: bool  # queued and not due yet (delayed)
    count: int
    earliest: datetime  # the smallest run_at of the group


_UNFINISHED_HERE = QueuedJob.state.in_(
    [QueueState.QUEUED, QueueState.ASSIGNED, QueueState.RUNNING]
) | ((QueuedJob.state == QueueState.DISPATCHED) & (QueuedJob.lane == "batch"))
"""Unfinished jobs whose row is their record (a dispatched flow-lane row's job is its run)."""


def depths(now: datetime, url: str | None = None) -> list[Depth]:
    """The unfinished jobs the outbox follows, counted by job type, priority, lane, state and
    whether they are due: one grouped query over the unfinished rows (ix_queued_jobs_finished
    ranges: the flow-lane rows kept as key holders are not read)."""
    later = (QueuedJob.state == QueueState.QUEUED) & (QueuedJob.run_at > now)
    query = (
        select(QueuedJob.job_type, QueuedJob.priority, QueuedJob.lane, QueuedJob.state,
               later, func.count(), func.min(QueuedJob.run_at))
        .where(_UNFINISHED_HERE, _LANES, _FOLLOWED_HERE)
        .group_by(QueuedJob.job_type, QueuedJob.priority, QueuedJob.lane, QueuedJob.state,
                  later)
    )  # fmt: skip
    with session(url) as db:
        return [
            Depth(job_type, priority, lane, QueueState(state), bool(due_later), count,
                  aware(earliest))
            for job_type, priority, lane, state, due_later, count, earliest in db.execute(query)
        ]  # fmt: skip


@dataclass(frozen=True)
class Ended:
    """A job the outbox follows that finished: what its metrics need."""

    id: str
    job_type: str
    lane: str
    state: QueueState
    due: datetime  # when it was due: its run_at, or its creation if later
    started_at: datetime | None
    finished_at: datetime


def finished_since(moment: datetime, url: str | None = None) -> list[Ended]:
    """Jobs the outbox follows that finished at or after ``moment`` (ix_queued_jobs_finished
    ranges: only those rows are read)."""
    query = select(
        QueuedJob.id, QueuedJob.job_type, QueuedJob.lane, QueuedJob.state, QueuedJob.created_at,
        QueuedJob.run_at, QueuedJob.started_at, QueuedJob.finished_at,
    ).where(QueuedJob.state.in_(FINAL), _LANES, _FOLLOWED_HERE,
            QueuedJob.finished_at >= moment.astimezone(UTC))  # fmt: skip
    with session(url) as db:
        return [
            Ended(job_id, job_type, lane, QueueState(state),
                  max(aware(created), aware(run_at)),
                  aware(started) if started else None, aware(finished or moment))
            for job_id, job_type, lane, state, created, run_at, started, finished
            in db.execute(query)
        ]  # fmt: skip
