"""The rules of automatic recovery that need no server: re-run history and the settings."""

from __future__ import annotations

import pytest
from prefect.states import Completed, Crashed, Failed, Pending, Running, Scheduled
from pydantic import ValidationError

from jobs.history import MANUAL_RETRY, RERUN, recoveries
from jobs.settings import Settings


def test_each_automatic_rerun_is_explained_by_the_crash_before_it() -> None:
    states = [
        Scheduled(),
        Pending(),
        Running(),
        Crashed(message="worker w1 stopped sending heartbeats"),
        Scheduled(message=f"{RERUN}: re-run 1 of 3"),
        Running(),
        Crashed(message="Run process died: SIGSEGV"),
        Scheduled(message=f"{RERUN}: re-run 2 of 3"),
        Running(),
        Completed(),
    ]

    assert recoveries(states) == [
        "worker w1 stopped sending heartbeats",
        "Run process died: SIGSEGV",
    ]


def test_a_job_never_rerun_has_no_recoveries() -> None:
    states = [Scheduled(), Running(), Failed(message="boom"), Scheduled(message="Retrying")]

    assert recoveries(states) == []


def test_a_retry_through_the_api_starts_the_allowance_afresh() -> None:
    states = [
        Crashed(message="first"),
        Scheduled(message=f"{RERUN}: re-run 1 of 1"),
        Crashed(message="second"),
        Failed(message="crashed 2 times"),
        Scheduled(message=MANUAL_RETRY),
        Crashed(message="third"),
        Scheduled(message=f"{RERUN}: re-run 1 of 1"),
    ]

    assert recoveries(states) == ["first", "third"]
    assert recoveries(states, since_manual_retry=True) == ["third"]


def test_the_rerun_limit_can_differ_by_job_type() -> None:
    settings = Settings(recovery_max_reruns=3, recovery_max_reruns_by_type={"video": 1})

    assert settings.max_reruns("video") == 1
    assert settings.max_reruns("email") == 3


def test_a_zombie_window_shorter_than_two_heartbeats_is_refused() -> None:
    with pytest.raises(ValidationError) as error:
        Settings(worker_heartbeat_seconds=10, zombie_after_seconds=15)

    message = str(error.value)
    assert "zombie_after_seconds must be at least twice worker_heartbeat_seconds (20)" in message
    assert "got 15" in message
