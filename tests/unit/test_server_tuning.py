"""The Prefect server's tuning in prefect_env: batched task-run recorder and event persister,
shorter retention of routine task-run events, each overridable by the operator."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import prefect.settings
import pytest

from jobs.services import SERVER_TUNING, prefect_env
from jobs.settings import Settings


def test_prefect_env_batches_the_recorder_and_the_persister(tmp_path: Path) -> None:
    env = prefect_env(Settings(home=tmp_path))

    assert env["PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE"] == "200"
    assert env["PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE"] == "200"
    assert env["PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL"] == "1"
    assert env["PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE"] == "200"
    assert env["PREFECT_SERVER_SERVICES_EVENT_PERSISTER_READ_BATCH_SIZE"] == "200"
    assert env["PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL"] == "1"


def test_prefect_reads_every_tuned_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Prefect ignores a variable it does not know, so each name is checked by Prefect itself."""
    env = prefect_env(Settings(home=tmp_path))
    for name in SERVER_TUNING:
        monkeypatch.setenv(name, env[name])

    services = prefect.settings.Settings().server.services

    assert services.task_run_recorder.batch_size == 200
    assert services.task_run_recorder.read_batch_size == 200
    assert services.task_run_recorder.flush_interval == 1
    assert services.event_persister.batch_size == 200
    assert services.event_persister.read_batch_size == 200
    assert services.event_persister.flush_interval == 1
    assert services.db_vacuum.event_retention_overrides == {
        "prefect.flow-run.heartbeat": timedelta(days=7),
        "prefect.task-run.Pending": timedelta(days=1),
        "prefect.task-run.Running": timedelta(days=1),
        "prefect.task-run.Completed": timedelta(days=1),
    }


def test_the_operators_value_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE", "50")
    monkeypatch.setenv("PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL", "5")

    env = prefect_env(Settings(home=tmp_path))

    assert env["PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE"] == "50"
    assert env["PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL"] == "5"
    assert env["PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE"] == "200"
