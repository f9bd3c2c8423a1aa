"""Parameters of the webhook and api_call job types, checked at submit."""

from __future__ import annotations

from typing import Any

import pytest

from jobs.errors import InvalidJobParams
from jobs.outbound.params import MAX_BODY_BYTES, ApiCall, DeliverWebhook
from jobs.registry import job_type, validate


def webhook(**fields: Any) -> dict[str, Any]:
    return {"event": "order.paid", "payload": {"order": 42}, **fields}


def test_webhook_to_an_endpoint_or_to_a_url_with_a_secret_block() -> None:
    by_endpoint = validate(job_type("webhook"), webhook(endpoint_id=3))
    by_url = validate(
        job_type("webhook"), webhook(url="https://hooks.example.com/in", secret_block="acme-hook")
    )

    assert isinstance(by_endpoint, DeliverWebhook) and isinstance(by_url, DeliverWebhook)
    assert by_url.body("d-1") == b'{"id":"d-1","event":"order.paid","data":{"order":42}}'


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "needs endpoint_id, or url with secret_block; got neither"),
        ({"endpoint_id": 1, "url": "https://a.example/"}, "endpoint_id or url, not both"),
        ({"url": "https://a.example/"}, "url needs secret_block"),
        ({"endpoint_id": 1, "secret_block": "x"}, "secret_block goes with url"),
        ({"endpoint_id": 1, "secret_block": "Has Spaces"}, "secret_block: String should match"),
        ({"endpoint_id": 1, "event": "bad event"}, "event: String should match"),
        ({"endpoint_id": 0}, "endpoint_id: Input should be greater than or equal to 1"),
    ],
)
def test_webhook_refusals_say_what_was_wrong(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidJobParams, match=message):
        validate(job_type("webhook"), webhook(**fields))


def test_webhook_payload_is_size_limited() -> None:
    big = {"blob": "x" * MAX_BODY_BYTES}

    with pytest.raises(InvalidJobParams, match=rf"at most {MAX_BODY_BYTES} bytes; got \d+"):
        validate(job_type("webhook"), webhook(endpoint_id=1, payload=big))


def test_api_call_body_and_defaults() -> None:
    call = validate(
        job_type("api_call"),
        {"url": "https://api.example.com/v1/sync", "json_body": {"since": "2026-01-01"}},
    )

    assert isinstance(call, ApiCall)
    assert call.method == "POST"
    assert call.content() == b'{"since":"2026-01-01"}'


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"json_body": {}, "text_body": "x"}, "json_body or text_body, not both"),
        ({"method": "GET", "text_body": "x"}, "a GET request takes no body"),
        ({"method": "TRACE"}, "method: Input should be"),
        ({"headers": {"Authorization": "Bearer x"}}, "authorization must not travel in headers"),
        ({"headers": {"Host": "evil.example"}}, "headers may not set host"),
        ({"headers": {"X-Ok": "a\r\nX-Injected: 1"}}, "CR or LF"),
        ({"headers": {"Bad Name": "v"}}, "String should match pattern"),
        ({"secret_headers": {"Authorization": "Not_A_Block"}}, "String should match pattern"),
        ({"headers": {"x-key": "1"}, "secret_headers": {"X-Key": "k"}}, "both set x-key"),
        ({"expected_status": [200, 700]}, "less than or equal to 599"),
        ({"text_body": "x" * (MAX_BODY_BYTES + 1)}, f"at most {MAX_BODY_BYTES} bytes"),
    ],
)
def test_api_call_refusals_say_what_was_wrong(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidJobParams, match=message):
        validate(job_type("api_call"), {"url": "https://api.example.com/x", **fields})
