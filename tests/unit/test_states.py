"""Prefect flow-run states read as job states; queue counts; the error hierarchy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from prefect.client.schemas.objects import FlowRun, State
from prefect.states import (
    AwaitingRetry,
    Cancelled,
    Cancelling,
    Completed,
    Crashed,
    Failed,
    Late,
    Paused,
    Pending,
    Running,
    Scheduled,
)

from jobs import errors
from jobs.errors import (
    InvalidJobParams,
    JobNotFound,
    JobsError,
    PermanentJobError,
    ServerUnavailable,
    SubmitFailed,
)
from jobs.reading import job_state
from jobs.status import JobState, QueueStats

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


def run_in(state: State[Any] | None, **fields: Any) -> FlowRun:
    return FlowRun(flow_id=uuid4(), state=state, **fields)


def scheduled_for(when: datetime, **state_options: Any) -> FlowRun:
    """A scheduled run as the server returns it: its next start time set from the state."""
    return run_in(
        Scheduled(scheduled_time=when, **state_options),
        next_scheduled_start_time=when,
        expected_start_time=when,
    )


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (Pending(), JobState.WAITING),
        (Running(), JobState.ACTIVE),
        (Cancelling(), JobState.ACTIVE),
        (Completed(), JobState.COMPLETED),
        (Failed(message="boom"), JobState.FAILED),
        (Crashed(message="worker died"), JobState.FAILED),
        (Cancelled(), JobState.CANCELLED),
        (Paused(), JobState.PAUSED),
    ],
    ids=lambda value: value.name if isinstance(value, State) else str(value),
)
def test_fixed_states(state: State[Any], expected: JobState) -> None:
    assert job_state(run_in(state), now=NOW) is expected


def test_scheduled_in_the_future_is_delayed() -> None:
    run = scheduled_for(NOW + timedelta(minutes=5))

    assert job_state(run, now=NOW) is JobState.DELAYED


def test_scheduled_in_the_past_is_waiting() -> None:
    run = scheduled_for(NOW - timedelta(seconds=1))

    assert job_state(run, now=NOW) is JobState.WAITING


def test_scheduled_exactly_now_is_waiting() -> None:
    assert job_state(scheduled_for(NOW), now=NOW) is JobState.WAITING


def test_scheduled_state_is_judged_against_the_clock_by_default() -> None:
    assert job_state(scheduled_for(datetime.now(UTC) + timedelta(hours=1))) is JobState.DELAYED
    assert job_state(scheduled_for(datetime.now(UTC) - timedelta(hours=1))) is JobState.WAITING


def test_awaiting_retry_is_delayed_until_its_time() -> None:
    when = NOW + timedelta(seconds=30)
    run = run_in(AwaitingRetry(scheduled_time=when), next_scheduled_start_time=when)

    assert run.state is not None and run.state.name == "AwaitingRetry"
    assert job_state(run, now=NOW) is JobState.DELAYED
    assert job_state(run, now=when + timedelta(seconds=1)) is JobState.WAITING


def test_late_run_is_waiting() -> None:
    when = NOW - timedelta(minutes=10)
    run = run_in(Late(scheduled_time=when), next_scheduled_start_time=when)

    assert job_state(run, now=NOW) is JobState.WAITING


def test_expected_start_time_is_used_without_a_next_scheduled_start_time() -> None:
    when = NOW + timedelta(minutes=1)
    run = run_in(Scheduled(scheduled_time=when), expected_start_time=when)

    assert job_state(run, now=NOW) is JobState.DELAYED


def test_run_without_state_or_times_is_waiting() -> None:
    assert job_state(run_in(None), now=NOW) is JobState.WAITING


@pytest.mark.parametrize(
    ("state", "final"),
    [
        (JobState.COMPLETED, True),
        (JobState.FAILED, True),
        (JobState.CANCELLED, True),
        (JobState.DELAYED, False),
        (JobState.WAITING, False),
        (JobState.ACTIVE, False),
        (JobState.PAUSED, False),
    ],
)
def test_is_final(state: JobState, final: bool) -> None:
    assert state.is_final is final


def test_job_states_read_as_words() -> None:
    assert [str(state) for state in JobState] == [
        "delayed",
        "waiting",
        "active",
        "completed",
        "failed",
        "cancelled",
        "paused",
    ]


def test_queue_stats_count_every_job_state_and_nothing_else() -> None:
    counts = set(QueueStats.model_fields) - {"job_type"}

    assert counts == {str(state) for state in JobState}


def test_queue_stats_total_is_the_sum_and_is_dumped() -> None:
    stats = QueueStats(
        job_type="email",
        waiting=1,
        active=2,
        completed=30,
        failed=4,
        delayed=5,
        cancelled=6,
        paused=7,
    )

    assert stats.total == 55
    assert stats.model_dump() == {
        "job_type": "email",
        "waiting": 1,
        "active": 2,
        "completed": 30,
        "failed": 4,
        "delayed": 5,
        "cancelled": 6,
        "paused": 7,
        "total": 55,
    }
    assert '"total":55' in stats.model_dump_json()


def test_empty_queue_has_total_zero() -> None:
    stats = QueueStats(
        job_type="newsletter",
        waiting=0,
        active=0,
        completed=0,
        failed=0,
        delayed=0,
        cancelled=0,
        paused=0,
    )

    assert stats.total == 0


# -- errors ---------------------------------------------------------------------------------

ERRORS = [
    JobsError,
    JobNotFound,
    InvalidJobParams,
    SubmitFailed,
    ServerUnavailable,
    PermanentJobError,
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda error: error.__name__)
def test_default_message_is_the_docstring(error: type[JobsError]) -> None:
    assert error.__doc__
    assert str(error()) == error.__doc__


def test_default_messages_read_as_sentences() -> None:
    assert str(JobsError()) == "Unexpected jobs error."
    assert str(InvalidJobParams()) == "The job's parameters are not valid."
    assert str(JobNotFound()) == "No job with that id exists."


@pytest.mark.parametrize("error", ERRORS, ids=lambda error: error.__name__)
def test_given_message_wins(error: type[JobsError]) -> None:
    assert str(error("priority must be 1 to 10; got 0")) == "priority must be 1 to 10; got 0"


@pytest.mark.parametrize("error", ERRORS[1:], ids=lambda error: error.__name__)
def test_every_error_is_a_jobs_error(error: type[JobsError]) -> None:
    assert issubclass(error, JobsError)
    with pytest.raises(JobsError):
        raise error()


def test_every_error_in_the_module_is_a_jobs_error_with_a_docstring() -> None:
    found = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, Exception)
    ]
    assert set(ERRORS) <= set(found)
    for error in found:
        assert issubclass(error, JobsError), f"{error.__name__} is not a JobsError"
        assert error.__doc__ and error.__doc__.strip(), f"{error.__name__} has no docstring"
