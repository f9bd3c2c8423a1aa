"""Webhook signatures: what the sender signs, the receiver's verify() accepts, and nothing else."""

from __future__ import annotations

import hashlib
import hmac

from jobs.outbound import signing

SECRET = "whsec_test_7f3a"
BODY = b'{"id":"d-1","event":"order.paid","data":{"order":42}}'
NOW = 1_700_000_000


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()

    assert signing.signature(SECRET, NOW, BODY) == f"sha256={expected}"


def test_headers_round_trip_through_verify() -> None:
    headers = signing.headers(SECRET, BODY, timestamp=NOW)

    assert headers["X-Webhook-Timestamp"] == str(NOW)
    assert signing.verify(
        SECRET, headers["X-Webhook-Timestamp"], BODY, headers["X-Webhook-Signature"], now=NOW + 5
    )


def test_verify_accepts_text_body_and_current_time() -> None:
    headers = signing.headers(SECRET, BODY.decode())

    assert signing.verify(
        SECRET, headers["X-Webhook-Timestamp"], BODY, headers["X-Webhook-Signature"]
    )


def test_verify_refuses_wrong_secret() -> None:
    header = signing.signature(SECRET, NOW, BODY)

    assert not signing.verify("another-secret", NOW, BODY, header, now=NOW)


def test_verify_refuses_changed_body_or_timestamp() -> None:
    header = signing.signature(SECRET, NOW, BODY)

    assert not signing.verify(SECRET, NOW, BODY.replace(b"42", b"43"), header, now=NOW)
    assert not signing.verify(SECRET, NOW + 1, BODY, header, now=NOW)


def test_verify_refuses_timestamps_outside_the_tolerance() -> None:
    header = signing.signature(SECRET, NOW, BODY)

    assert signing.verify(SECRET, NOW, BODY, header, tolerance=300, now=NOW + 300)
    assert not signing.verify(SECRET, NOW, BODY, header, tolerance=300, now=NOW + 301)
    assert not signing.verify(SECRET, NOW, BODY, header, tolerance=300, now=NOW - 301)


def test_verify_refuses_malformed_headers() -> None:
    digest = signing.signature(SECRET, NOW, BODY).removeprefix("sha256=")

    assert not signing.verify(SECRET, NOW, BODY, digest, now=NOW)  # no scheme prefix
    assert not signing.verify(SECRET, "yesterday", BODY, f"sha256={digest}", now=NOW)
    assert not signing.verify(SECRET, NOW, BODY, "", now=NOW)
