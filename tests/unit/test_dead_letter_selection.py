"""Dead letters: the arguments refused before anything is read, the outbox's selection of failed
jobs, and replaying batched jobs (their record is the outbox: no Prefect server needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import update

from jobs import outbox
from jobs.client import Client
from jobs.db.engine import session
from jobs.db.models import QueuedJob, QueueState
from jobs.deadletter import Selection, job_ids
from jobs.errors import InvalidJobParams
from jobs.settings import Settings
from jobs.status import Job, JobState

DEAD_URL = "http://127.0.0.1:9/api"  # the discard port: nothing answers there
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)  # fixed: test ids must not change between runs


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"job_type": "mail"}, "job_type: expected one of api_call, cache_cleanup,"),
        ({"job_type": 3}, "job_type: expected one of api_call,"),
        ({"reason": ""}, "reason: expected a non-empty string of at most 1000 characters, "
                         "got str ''"),
        ({"reason": 503}, "reason: expected a non-empty string of at most 1000 characters, "
                          "got int 503"),
        ({"since": datetime(2026, 1, 1)},  # noqa: DTZ001 - refused: naive
         "since: expected a timezone-aware datetime, got naive datetime 2026-01-01T00:00:00"),
        ({"until": "yesterday"},
         "until: expected a timezone-aware datetime, got str 'yesterday'"),
        ({"since": NOW, "until": NOW - timedelta(hours=1)},
         f"until: expected a datetime after since ({NOW.isoformat()}), got datetime "),
        ({"limit": 0}, "limit: expected an integer from 1 to 10000, got int 0"),
        ({"limit": True}, "limit: expected an integer from 1 to 10000, got bool True"),
        ({"limit": 10_001}, "limit: expected an integer from 1 to 10000, got int 10001"),
    ],
)  # fmt: skip
def test_bad_arguments_are_refused_naming_them(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidJobParams) as refused:
        Selection.checked(**arguments)

    assert str(refused.value).startswith(message)


def test_bad_arguments_are_refused_by_the_client_before_any_request() -> None:
    offline = Client(Settings(prefect_api_url=DEAD_URL))

    with pytest.raises(InvalidJobParams, match=r"^limit: expected an integer"):
        offline.dead_letters(limit=-1)


def test_the_reason_matches_as_a_substring_in_any_case() -> None:
    selection = Selection.checked(reason="http 503")

    assert selection.matches("HTTP 503 from 127.0.0.1/hook")
    assert not selection.matches("HTTP 410 from 127.0.0.1/hook")
    assert not selection.matches(None)
    assert Selection.checked().matches(None)


def test_replay_takes_jobs_ids_and_id_strings_once_each() -> None:
    first, second = uuid4(), uuid4()

    ids = job_ids([Job(first, "ping"), second, str(first), str(second).upper()])

    assert ids == [first, second]


ITERABLE = "jobs: expected an iterable of jobs (jobs.Job, jobs.JobStatus, UUID or UUID string)"
ITEM = "expected a job (jobs.Job or jobs.JobStatus), a UUID or a UUID string"


@pytest.mark.parametrize(
    ("jobs", "message"),
    [
        ("not-a-list", f"{ITERABLE}, got str 'not-a-list'"),
        (7, f"{ITERABLE}, got int 7"),
        ([uuid4(), "nope"], f"jobs.1: {ITEM}, got str 'nope'"),
        ([None], f"jobs.0: {ITEM}, got NoneType"),
    ],
)
def test_replay_refuses_what_is_not_a_job(jobs: Any, message: str) -> None:
    with pytest.raises(InvalidJobParams) as refused:
        job_ids(jobs)

    assert str(refused.value).startswith(message)


# -- the outbox's failed jobs ----------------------------------------------------------------


def _job(url: str, job_type: str, state: QueueState, reason: str | None, ended: datetime,
         **more: Any) -> str:  # fmt: skip
    [added] = outbox.add_now(
        [outbox.NewJob(job_type, more.pop("lane", "batch"), {"note": "n"}, 5, [], **more)], url
    )
    with session(url) as db, db.begin():
        db.execute(
            update(QueuedJob)
            .where(QueuedJob.id == added.id)
            .values(state=state, failure_reason=reason, finished_at=ended, attempts=1)
        )
    return added.id


@pytest.fixture
def marker() -> str:
    """A text only this test's failure reasons hold (the database is the session's)."""
    return f"incident-{uuid4().hex[:8]}"


def test_failed_outbox_jobs_by_type_reason_and_window(app_db_url: str, marker: str) -> None:
    t0 = datetime.now(UTC) - timedelta(hours=1)
    url = app_db_url
    old = _job(url, "ping", QueueState.FAILED, f"HTTP 503 {marker}", t0)
    mid = _job(
        url, "webhook", QueueState.FAILED, f"http 503 {marker.upper()}", t0 + timedelta(minutes=10)
    )
    new = _job(url, "ping", QueueState.FAILED, f"HTTP 503 {marker}", t0 + timedelta(minutes=20))
    _job(url, "ping", QueueState.FAILED, f"HTTP 410 {marker}", t0 + timedelta(minutes=5))
    _job(url, "ping", QueueState.COMPLETED, f"HTTP 503 {marker}", t0 + timedelta(minutes=5))
    _job(url, "ping", QueueState.CANCELLED, f"HTTP 503 {marker}", t0 + timedelta(minutes=5))
    # a flow-lane row with a run is its key's holder; the run is the job's record
    _job(url, "ping", QueueState.FAILED, f"HTTP 503 {marker}", t0 + timedelta(minutes=5),
         lane="flow", run_id=str(uuid4()))  # fmt: skip
    reason = f"503 {marker}"

    def ids(**selection: Any) -> list[str]:
        return [row.id for row in outbox.failed(**{"job_type": None, "reason": reason,
                                                   "since": None, "until": None, "limit": 100,
                                                   **selection, "url": url})]  # fmt: skip

    assert ids() == [new, mid, old]  # newest end first
    assert ids(job_type="ping") == [new, old]
    assert ids(since=t0 + timedelta(minutes=10)) == [new, mid]  # since is included ...
    assert ids(until=t0 + timedelta(minutes=20)) == [mid, old]  # ... until is not
    assert ids(since=t0 + timedelta(minutes=1), until=t0 + timedelta(minutes=15)) == [mid]
    assert ids(limit=2) == [new, mid]
    assert ids(reason=f"100% {marker}") == []  # % and _ are text, not patterns


def test_replaying_batched_jobs_retries_each_failed_one_once(app_db_url: str, marker: str) -> None:
    client = Client(Settings(prefect_api_url=DEAD_URL, database_url=app_db_url))
    ended = datetime.now(UTC)
    failed = _job(app_db_url, "ping", QueueState.FAILED, marker, ended)
    done = _job(app_db_url, "ping", QueueState.COMPLETED, None, ended)

    replay = client.replay([client.status(failed), UUID(done), failed])

    assert replay.replayed == [UUID(failed)]
    assert replay.skipped == {done: "completed, not failed"}
    assert client.status(failed).state is JobState.WAITING  # queued again, same id
    again = client.replay([failed])
    assert again.replayed == []
    assert again.skipped == {failed: "waiting, not failed"}
