"""The email flows run in this process against a real Prefect server and a real SMTP server."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterType,
    FlowRunFilter,
    FlowRunFilterId,
)
from prefect.client.schemas.objects import Artifact, State, StateType, TaskRun

from flows import mail
from jobs.email.params import Recipient, SendEmail, SendNewsletter
from tests.support.polling import wait_until
from tests.support.smtp import Recorder

pytestmark = pytest.mark.usefixtures("prefect_server", "app_db")

FINAL = {StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}


def unique_address() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


def welcome(address: str) -> SendEmail:
    return SendEmail(
        to=[address],
        subject="Welcome aboard",
        template="welcome",
        context={"name": "Ada", "app_name": "Acme"},
    )


def flow_run_id(state: State[Any]) -> UUID:
    run_id = state.state_details.flow_run_id
    assert run_id is not None, f"state {state.name} has no flow run"
    return run_id


def finished_task_runs(run_id: UUID, expected: int, timeout: float = 60) -> list[TaskRun]:
    """The flow run's task runs once ``expected`` of them are recorded in a final state.

    Task-run states reach the server as events, a moment after the flow returns.
    """
    flow_runs = FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
    task_runs: list[TaskRun] = []
    with get_client(sync_client=True) as client:

        def finished() -> bool:
            nonlocal task_runs
            task_runs = client.read_task_runs(flow_run_filter=flow_runs)
            done = [t for t in task_runs if t.state is not None and t.state.type in FINAL]
            return len(done) >= expected

        wait_until(finished, timeout, f"{expected} task runs of flow run {run_id} are final")
    return task_runs


def progress_artifacts(run_id: UUID) -> list[Artifact]:
    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]),
                type=ArtifactFilterType(any_=["progress"]),
            )
        )


def test_email_flow_sends_one_message(smtp: Recorder) -> None:
    address = unique_address()

    outcome = mail.send_email(welcome(address))

    assert isinstance(outcome, str)
    assert outcome.startswith("sent <")
    [received] = smtp.to(address)
    assert received["Message-ID"] in outcome
    assert received["Subject"] == "Welcome aboard"


def test_email_flow_retries_a_transient_failure_once(smtp: Recorder) -> None:
    smtp.fail_next(1, "451 4.3.0 Try again later")
    address = unique_address()

    state = mail.send_email(welcome(address), return_state=True)

    assert state.is_completed(), state.message
    assert str(state.result()).startswith("sent <")
    [task_run] = finished_task_runs(flow_run_id(state), expected=1)
    assert task_run.state is not None and task_run.state.is_completed()
    assert task_run.run_count == 2
    assert len(smtp.to(address)) == 1


def test_email_flow_fails_at_once_on_a_rejected_recipient(smtp: Recorder) -> None:
    state = mail.send_email(welcome("nobody@example.com"), return_state=True)

    assert state.is_failed()
    assert state.message is not None
    assert "550" in state.message
    assert "nobody@example.com" in state.message
    [task_run] = finished_task_runs(flow_run_id(state), expected=1)
    assert task_run.state is not None and task_run.state.is_failed()
    assert task_run.run_count == 1
    assert smtp.messages == []


def test_email_flow_reports_full_progress(smtp: Recorder) -> None:
    state = mail.send_email(welcome(unique_address()), return_state=True)

    assert state.is_completed(), state.message
    [artifact] = progress_artifacts(flow_run_id(state))
    assert artifact.data == 100
    assert artifact.description is not None and artifact.description.startswith("sent <")


def test_newsletter_flow_sends_in_chunks_and_reports_progress(smtp: Recorder) -> None:
    addresses = [unique_address() for _ in range(4)]
    params = SendNewsletter(
        subject="Spring news",
        template="newsletter",
        context={
            "headline": "Spring release",
            "body_paragraphs": ["Faster queues."],
            "unsubscribe_url": "https://example.com/unsubscribe",
        },
        recipients=[
            Recipient(email=a, context={"name": f"Reader {n}"}) for n, a in enumerate(addresses)
        ],
        chunk_size=2,
    )

    state = mail.send_newsletter(params, return_state=True)

    assert state.is_completed(), state.message
    assert state.result() == {"sent": 4}
    assert [len(smtp.to(a)) for a in addresses] == [1, 1, 1, 1]
    run_id = flow_run_id(state)
    [artifact] = progress_artifacts(run_id)
    assert artifact.data == 100
    assert artifact.description == "4 sent"
    task_runs = finished_task_runs(run_id, expected=2)
    assert len(task_runs) == 2
    assert all(t.state is not None and t.state.is_completed() for t in task_runs)


def test_newsletter_flow_where_everyone_is_refused_fails(smtp: Recorder) -> None:
    params = SendNewsletter(
        subject="Spring news",
        text="Hello",
        recipients=[Recipient(email="nobody@example.com")],
    )

    state = mail.send_newsletter(params, return_state=True)

    assert state.is_failed()
    assert state.message is not None
    assert "every recipient was refused" in state.message
    assert smtp.messages == []
