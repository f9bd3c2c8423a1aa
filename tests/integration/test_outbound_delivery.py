"""Webhooks and API calls against a real HTTP server on 127.0.0.1, with the real Prefect server
(rate limits, Secret blocks), the real app database and the flows run in this process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.concurrency.sync import rate_limit
from sqlalchemy import select

from deployments import limits as deployed_limits
from flows import outbound
from jobs.db.engine import session
from jobs.db.models import HttpAttempt, WebhookEndpoint
from jobs.errors import PermanentJobError
from jobs.outbound import api, limits, signing, webhook
from jobs.outbound.params import ApiCall, DeliverWebhook
from jobs.outbound.retry import RetryableStatus
from jobs.settings import Settings
from tests.support.receiver import Answer, Received, Receiver

pytestmark = pytest.mark.usefixtures("prefect_server", "app_db")


@pytest.fixture
def receiver(settings: Settings) -> Receiver:
    return Receiver.allowed(settings)


@pytest.fixture
def endpoint(receiver: Receiver) -> Iterator[Any]:
    """Makes webhook_endpoints rows pointing at the receiver; yields the factory."""

    def make(path: str, url: str | None = None) -> WebhookEndpoint:
        row = WebhookEndpoint(url=url or receiver.url(path), secret=f"whsec-{uuid.uuid4().hex}")
        with session() as db, db.begin():
            db.add(row)
        return row

    yield make


def secret_block(value: str) -> str:
    name = f"test-secret-{uuid.uuid4().hex[:8]}"
    Secret(value=value).save(name)
    return name


def rows(*, url: str | None = None, endpoint_id: int | None = None) -> list[HttpAttempt]:
    query = select(HttpAttempt).order_by(HttpAttempt.id)
    query = query.where(HttpAttempt.url == url) if url else query
    query = query.where(HttpAttempt.endpoint_id == endpoint_id) if endpoint_id else query
    with session() as db:
        return list(db.scalars(query))


def signed_by(secret: str, request: Received) -> bool:
    headers = request.headers
    return signing.verify(
        secret, headers["x-webhook-timestamp"], request.body, headers["x-webhook-signature"]
    )


def event(endpoint_id: int, **fields: Any) -> DeliverWebhook:
    return DeliverWebhook(
        event="order.paid", payload={"order": 42}, endpoint_id=endpoint_id, **fields
    )


def test_webhook_fails_then_succeeds_signed_and_every_attempt_recorded(
    receiver: Receiver, endpoint: Any
) -> None:
    path = receiver.path(Answer(503, body=b"busy"))
    hook = endpoint(path)

    outcome = outbound.deliver_webhook(event(hook.id))

    first, second = receiver.received(path)
    assert "HTTP 200" in outcome
    assert all(signed_by(hook.secret, r) for r in (first, second))
    assert first.headers["x-webhook-id"] == second.headers["x-webhook-id"]
    assert first.headers["x-webhook-event"] == "order.paid"
    assert b'"data":{"order":42}' in second.body
    attempts = rows(endpoint_id=hook.id)
    assert [(a.attempt, a.status_code) for a in attempts] == [(1, 503), (2, 200)]
    assert attempts[0].error is not None and "HTTP 503" in attempts[0].error
    assert attempts[1].error is None and attempts[1].latency_ms is not None


def test_webhook_to_url_signs_with_the_secret_block(receiver: Receiver) -> None:
    path = receiver.path()
    secret = f"whsec-{uuid.uuid4().hex}"
    params = DeliverWebhook(
        event="user.created",
        payload=[1, "two"],
        url=receiver.url(path),
        secret_block=secret_block(secret),
        delivery_id="delivery-1",
    )

    webhook.deliver(params, f"job-{uuid.uuid4()}")

    [request] = receiver.received(path)
    assert signed_by(secret, request)
    assert not signed_by("some-other-secret", request)
    assert request.body == b'{"id":"delivery-1","event":"user.created","data":[1,"two"]}'
    assert secret not in params.model_dump_json()


def test_delivered_webhook_is_not_sent_again_by_a_rerun(receiver: Receiver, endpoint: Any) -> None:
    path = receiver.path()
    params = event(endpoint(path).id, delivery_id=f"once-{uuid.uuid4()}")

    webhook.deliver(params, "job-a")
    again = webhook.deliver(params, "job-a")

    assert "not sent again" in again
    assert len(receiver.received(path)) == 1


def test_gone_endpoint_fails_at_once(receiver: Receiver, endpoint: Any) -> None:
    path = receiver.path(Answer(410, body=b"endpoint removed"))
    hook = endpoint(path)

    state = outbound.deliver_webhook(event(hook.id), return_state=True)

    assert state.is_failed()
    assert "HTTP 410" in str(state.message) and "endpoint removed" in str(state.message)
    assert len(receiver.received(path)) == 1
    assert [a.status_code for a in rows(endpoint_id=hook.id)] == [410]


def test_429_retry_after_is_waited_out_then_retried(receiver: Receiver) -> None:
    path = receiver.path(Answer(429, {"Retry-After": "1"}), Answer(201, body=b'{"id":7}'))
    params = ApiCall(url=receiver.url(path), json_body={"amount": 100}, expected_status=[201])

    result = outbound.call_api(params)

    assert result["status"] == 201 and result["body"] == '{"id":7}'
    assert [a.status_code for a in rows(url=params.url)] == [429, 201]
    assert all(r.body == b'{"amount":100}' for r in receiver.received(path))


def test_retryable_status_carries_the_servers_retry_after(receiver: Receiver) -> None:
    path = receiver.path(Answer(503, {"Retry-After": "0"}))

    with pytest.raises(RetryableStatus, match="HTTP 503") as caught:
        api.call(ApiCall(url=receiver.url(path)), f"job-{uuid.uuid4()}")

    assert caught.value.retry_after == 0


def test_api_call_with_secret_header_and_expected_status(receiver: Receiver) -> None:
    path = receiver.path(Answer(404, {"Content-Type": "text/plain"}, b"no such order"))
    params = ApiCall(
        method="DELETE",
        url=receiver.url(path) + "?order=9",
        headers={"X-Request-Id": "r-1"},
        secret_headers={"Authorization": secret_block("Bearer tok-123")},
        expected_status=[204, 404],
    )

    result = api.call(params, f"job-{uuid.uuid4()}")

    [request] = receiver.received(path)
    assert (request.method, request.headers["authorization"]) == ("DELETE", "Bearer tok-123")
    assert request.headers["x-request-id"] == "r-1"
    assert request.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert result == {
        "status": 404,
        "url": params.url,
        "content_type": "text/plain",
        "body": "no such order",
    }


def test_redirects_are_followed_and_each_hop_checked(receiver: Receiver) -> None:
    final = receiver.path()
    start = receiver.path(Answer(307, {"Location": final}))
    see_other = receiver.path(Answer(303, {"Location": receiver.url(final)}))

    api.call(ApiCall(url=receiver.url(start), text_body="hi"), f"job-{uuid.uuid4()}")
    api.call(ApiCall(url=receiver.url(see_other), text_body="hi"), f"job-{uuid.uuid4()}")

    assert [(r.method, r.body) for r in receiver.received(final)] == [("POST", b"hi"), ("GET", b"")]


@pytest.mark.parametrize(
    ("location", "refusal"),
    [
        ("http://localhost:{port}/internal", "resolves to 127.0.0.1, a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
        ("http://[::1]:{port}/internal", "a loopback address"),
        ("file:///etc/passwd", "must use http or https"),
    ],
)
def test_redirect_to_a_private_address_is_refused(
    receiver: Receiver, endpoint: Any, location: str, refusal: str
) -> None:
    path = receiver.path(Answer(302, {"Location": location.format(port=receiver.port)}))
    hook = endpoint(path)

    with pytest.raises(PermanentJobError, match=refusal):
        webhook.deliver(event(hook.id), f"job-{uuid.uuid4()}")

    assert [r.path for r in receiver.requests if r.path == "/internal"] == []
    [attempt] = rows(endpoint_id=hook.id)
    assert attempt.error is not None and "PermanentJobError" in attempt.error


def test_url_resolving_to_a_private_address_fails_at_once(receiver: Receiver) -> None:
    params = ApiCall(method="GET", url=f"http://localhost:{receiver.port}/anything")

    state = outbound.call_api(params, return_state=True)

    assert state.is_failed() and "loopback" in str(state.message)
    assert [a.attempt for a in rows(url=params.url)] == [1]


@pytest.mark.parametrize(("length", "how"), [(True, "it declares"), (False, "cut off after")])
def test_oversize_response_is_cut_off_with_a_clear_error(
    receiver: Receiver, settings: Settings, length: bool, how: str
) -> None:
    body = b"x" * (settings.http_max_response_bytes + 1)
    path = receiver.path(Answer(200, body=body, length=length))

    with pytest.raises(PermanentJobError, match=f"larger than the .*-byte limit.*{how}"):
        api.call(ApiCall(method="GET", url=receiver.url(path)), f"job-{uuid.uuid4()}")


def test_each_host_gets_its_own_rate_limit(receiver: Receiver, settings: Settings) -> None:
    api.call(ApiCall(method="GET", url=receiver.url(receiver.path())), f"job-{uuid.uuid4()}")

    with get_client(sync_client=True) as client:
        local = client.read_global_concurrency_limit_by_name("http-host:127.0.0.1")
    assert local.slot_decay_per_second == settings.http_rate_limit_default
    assert local.limit == limits.slots_for(settings.http_rate_limit_default)


async def test_configured_rate_limits_are_applied_from_deployments(settings: Settings) -> None:
    host = f"api-{uuid.uuid4().hex[:6]}.example.com"
    configured = settings.model_copy(update={"http_rate_limits": {host: 2.5}})

    async with get_client() as client:
        await deployed_limits.apply(client, configured)
        created = await client.read_global_concurrency_limit_by_name(f"http-host:{host}")

    assert (created.limit, created.slot_decay_per_second) == (3, 2.5)


def test_a_strict_host_does_not_hold_up_another(receiver: Receiver, settings: Settings) -> None:
    strict = f"strict-{uuid.uuid4().hex[:6]}.example.com"
    slow = settings.model_copy(update={"http_rate_limits": {strict: 0.001}})
    name = limits.ensure(strict, slow)
    rate_limit(name, strict=True)  # takes the only slot, which frees up in ~17 minutes

    with pytest.raises(TimeoutError):
        rate_limit(name, timeout_seconds=1, strict=True)
    result = api.call(ApiCall(method="GET", url=receiver.url(receiver.path())), "job-other-host")
    assert result["status"] == 200
