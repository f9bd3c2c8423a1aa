"""Webhook signatures: HMAC-SHA256 over ``f"{timestamp}.{body}"``, sent as two headers.

A delivery carries ``X-Webhook-Timestamp`` (Unix seconds) and
``X-Webhook-Signature: sha256=<hex digest>``, the digest of the timestamp, a dot and the exact
body bytes, keyed with the endpoint's secret. Receivers check it with :func:`verify` on the raw
body, and refuse timestamps outside a tolerance window to stop replays.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Webhook-Timestamp"
SIGNATURE_HEADER = "X-Webhook-Signature"
SCHEME = "sha256="
DEFAULT_TOLERANCE_SECONDS = 300.0


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def signature(secret: str | bytes, timestamp: int | str, body: str | bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    message = f"{timestamp}.".encode() + _as_bytes(body)
    return SCHEME + hmac.new(_as_bytes(secret), message, hashlib.sha256).hexdigest()


def headers(secret: str | bytes, body: str | bytes, timestamp: int | None = None) -> dict[str, str]:
    """The timestamp and signature headers for ``body`` (timestamp: now, by default)."""
    when = int(time.time()) if timestamp is None else timestamp
    return {TIMESTAMP_HEADER: str(when), SIGNATURE_HEADER: signature(secret, when, body)}


def verify(
    secret: str | bytes,
    timestamp: str | int,
    body: str | bytes,
    signature_header: str,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Whether ``signature_header`` signs ``body`` at ``timestamp`` with ``secret``, and the
    timestamp is within ``tolerance`` seconds of ``now``. Compares in constant time."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent_at) > tolerance:
        return False
    expected = signature(secret, sent_at, body)
    return hmac.compare_digest(expected.encode(), signature_header.strip().encode())
