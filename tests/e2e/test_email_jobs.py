"""Email jobs end to end: jobs.Client -> Prefect server -> worker -> real SMTP server."""

from __future__ import annotations

from prefect.client.orchestration import get_client
from prefect.states import Scheduled

from jobs.aio import run_sync
from jobs.client import Client
from jobs.status import JobState
from tests.support.emails import unique_address, welcome
from tests.support.runs import names_and_logs
from tests.support.smtp import Recorder


def test_submitted_email_arrives_and_job_completes(client: Client, smtp: Recorder) -> None:
    address = unique_address()
    job = client.submit("email", welcome(address), tags=["signup"])

    status = client.wait(job, timeout=120)

    assert status.state is JobState.COMPLETED, status.failure_reason
    assert status.progress == 100
    assert status.attempts == 1
    assert status.priority == 5
    assert "signup" in status.tags
    assert status.params["to"] == [address]
    assert status.created_at and status.started_at and status.finished_at
    assert status.created_at <= status.started_at <= status.finished_at
    [message] = smtp.to(address)
    assert message["Subject"] == "Welcome aboard"
    assert "Hi Ada" in message.get_body(preferencelist=("plain",)).get_content()
    assert message.get_body(preferencelist=("html",)) is not None


def test_the_run_is_named_after_its_recipients_and_logs_what_it_sent(
    client: Client, smtp: Recorder
) -> None:
    address, others = unique_address(), [unique_address(), unique_address()]
    job = client.submit("email", welcome(address, cc=others), lane="flow")  # its own run
    assert client.wait(job, timeout=120).state is JobState.COMPLETED

    name, tasks, logs = names_and_logs(job.id, "Sent email")

    assert name == f"email → {address} +2"
    assert tasks == [f"send-email → {address} +2"]
    [message] = smtp.to(address)
    [sent] = [line for line in logs if line.startswith("Sent email")]
    assert sent == f"Sent email {message['Message-ID']} to {address} +2 (3 recipients)"
    assert not [line for line in logs if "Welcome aboard" in line or "Hi Ada" in line]


def test_transient_smtp_failure_is_retried_then_succeeds(client: Client, smtp: Recorder) -> None:
    smtp.fail_next(1, "451 4.3.0 Mailbox busy, try again")
    address = unique_address()

    status = client.wait(client.submit("email", welcome(address)), timeout=120)

    assert status.state is JobState.COMPLETED, status.failure_reason
    assert status.attempts == 2
    assert len(smtp.to(address)) == 1


def test_permanent_failure_fails_at_once_with_reason(client: Client, smtp: Recorder) -> None:
    status = client.wait(client.submit("email", welcome("nobody@example.com")), timeout=120)

    assert status.state is JobState.FAILED
    assert status.attempts == 1
    assert status.failure_reason is not None
    assert "550" in status.failure_reason
    assert "nobody@example.com" in status.failure_reason
    assert smtp.messages == []


def test_duplicate_idempotency_key_gives_one_job_and_one_email(
    client: Client, smtp: Recorder
) -> None:
    address = unique_address()
    key = f"welcome-{address}"

    first = client.submit("email", welcome(address), idempotency_key=key)
    second = client.submit("email", welcome(address), idempotency_key=key)
    client.wait(first, timeout=120)
    third = client.submit("email", welcome(address), idempotency_key=key)

    assert first.id == second.id == third.id
    assert len(smtp.to(address)) == 1


def test_running_a_sent_job_again_sends_no_second_email(client: Client, smtp: Recorder) -> None:
    address = unique_address()
    job = client.submit("email", welcome(address), lane="flow")  # a flow run, to re-run
    assert client.wait(job, timeout=120).state is JobState.COMPLETED

    async def schedule_again() -> None:  # what a crash-recovery automation would do
        async with get_client() as prefect:
            await prefect.set_flow_run_state(job.id, Scheduled(name="AwaitingRetry"), force=True)

    run_sync(schedule_again())
    status = client.wait(job, timeout=120)

    assert status.state is JobState.COMPLETED
    assert len(smtp.to(address)) == 1


def test_failed_job_can_be_retried(client: Client, smtp: Recorder) -> None:
    address = unique_address()
    smtp.reject.add(address)
    job = client.submit("email", welcome(address))
    assert client.wait(job, timeout=120).state is JobState.FAILED

    smtp.reject.discard(address)
    client.retry(job)
    status = client.wait(job, timeout=120)

    assert status.state is JobState.COMPLETED, status.failure_reason
    assert len(smtp.to(address)) == 1
