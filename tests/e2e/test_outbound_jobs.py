"""Webhook and API-call jobs end to end: jobs.Client -> Prefect server -> warm worker -> a real
HTTP server on 127.0.0.1 (the one host JOBS_HTTP_ALLOW_HOSTS exempts from the SSRF check)."""

from __future__ import annotations

import uuid

import pytest

from jobs.client import Client
from jobs.db.engine import session
from jobs.db.models import WebhookEndpoint
from jobs.outbound import attempts, signing
from jobs.settings import Settings
from jobs.status import JobState
from tests.support.receiver import Answer, Receiver
from tests.support.runs import names_and_logs


@pytest.fixture
def receiver(settings: Settings) -> Receiver:
    return Receiver.allowed(settings)


def new_endpoint(url: str) -> WebhookEndpoint:
    row = WebhookEndpoint(url=url, secret=f"whsec-{uuid.uuid4().hex}")
    with session() as db, db.begin():
        db.add(row)
    return row


def test_webhook_job_delivers_a_signed_event(client: Client, receiver: Receiver) -> None:
    path = receiver.path()
    endpoint = new_endpoint(receiver.url(path))
    params = {"endpoint_id": endpoint.id, "event": "invoice.paid", "payload": {"invoice": 17}}

    job = client.submit("webhook", params, lane="flow")  # its own run, named and logged
    status = client.wait(job, timeout=120)

    assert status.state is JobState.COMPLETED, status.failure_reason
    assert status.attempts == 1 and status.progress == 100
    [request] = receiver.received(path)
    headers = request.headers
    assert signing.verify(
        endpoint.secret,
        headers["x-webhook-timestamp"],
        request.body,
        headers["x-webhook-signature"],
    )
    assert headers["x-webhook-id"] == str(job.id)
    assert endpoint.secret not in str(status.params)
    assert [(a.attempt, a.status_code, a.endpoint_id) for a in attempts.of_job(str(job.id))] == [
        (1, 200, endpoint.id)
    ]
    name, tasks, logs = names_and_logs(job.id, "Delivered webhook")
    assert name == f"webhook invoice.paid → endpoint {endpoint.id}"
    assert tasks == [f"deliver-webhook invoice.paid → endpoint {endpoint.id}"]
    [delivered] = [line for line in logs if line.startswith("Delivered webhook")]
    assert delivered.startswith(
        f"Delivered webhook invoice.paid (delivery '{job.id}'): "
        f"POST 127.0.0.1{path} → HTTP 200 (attempt 1, "
    )


def test_gone_endpoint_fails_the_job_at_once(client: Client, receiver: Receiver) -> None:
    path = receiver.path(Answer(410, body=b"unsubscribed"))
    endpoint = new_endpoint(receiver.url(path))

    job = client.submit("webhook", {"endpoint_id": endpoint.id, "event": "e", "payload": None})
    status = client.wait(job, timeout=120)

    assert status.state is JobState.FAILED
    assert status.attempts == 1
    assert status.failure_reason is not None and "HTTP 410" in status.failure_reason
    assert len(receiver.received(path)) == 1


def test_api_call_honours_retry_after_then_succeeds(client: Client, receiver: Receiver) -> None:
    path = receiver.path(Answer(429, {"Retry-After": "1"}, b"slow down"), Answer(202))
    url = f"{receiver.url(path)}?token=t0ps3cret"
    params = {"url": url, "json_body": {"post": "hello"}, "expected_status": [202]}

    job = client.submit("api_call", params, lane="flow")  # its own run, named and logged
    status = client.wait(job, timeout=120)

    assert status.state is JobState.COMPLETED, status.failure_reason
    assert status.attempts == 2
    assert [a.status_code for a in attempts.of_job(str(job.id))] == [429, 202]
    assert [r.body for r in receiver.received(path)] == [b'{"post":"hello"}'] * 2
    name, tasks, logs = names_and_logs(job.id, "Called API")
    assert name == "api_call POST 127.0.0.1"
    assert tasks == ["call-api POST 127.0.0.1"]  # one task run, two attempts
    attempt_lines = [line for line in logs if f"POST 127.0.0.1{path} → " in line]
    assert [line.split(" (attempt")[0] for line in attempt_lines] == [
        f"Attempt failed: POST 127.0.0.1{path} → HTTP 429",
        f"Called API: POST 127.0.0.1{path} → HTTP 202",
    ]
    assert "(attempt 1, " in attempt_lines[0] and "(attempt 2, " in attempt_lines[1]
    assert not [line for line in logs if "t0ps3cret" in line]


def test_private_address_fails_at_once(client: Client, receiver: Receiver) -> None:
    job = client.submit("api_call", {"method": "GET", "url": f"http://localhost:{receiver.port}/"})
    status = client.wait(job, timeout=120)

    assert status.state is JobState.FAILED
    assert status.attempts == 1
    assert status.failure_reason is not None and "loopback" in status.failure_reason
