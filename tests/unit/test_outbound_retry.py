"""Retry-After parsing and the sorting of statuses into success, retry and permanent failure."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from jobs.errors import PermanentJobError
from jobs.outbound.retry import RetryableStatus, failure, retry_after
from jobs.outbound.transport import Outgoing, read_capped, redirected

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("1.5", 1.5),
        ("Sun, 01 Mar 2026 12:00:30 GMT", 30.0),  # an HTTP date 30 s ahead
        ("Sunday, 01-Mar-26 12:01:00 GMT", 60.0),  # the obsolete RFC 850 form
        ("Sun, 01 Mar 2026 11:59:00 GMT", 0.0),  # a date in the past: retry now
        ("-5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(header: str | None, seconds: float) -> None:
    assert retry_after(header, now=NOW) == seconds


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_timeouts_throttling_and_server_errors_are_retryable(status: int) -> None:
    error = failure(status, "https://api.example.com/x", (), "7", "")

    assert isinstance(error, RetryableStatus)
    assert error.retry_after == 7.0
    assert f"HTTP {status}" in str(error)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422, 301])
def test_other_unexpected_statuses_fail_at_once(status: int) -> None:
    error = failure(status, "https://api.example.com/x", (), None, ": gone for good")

    assert isinstance(error, PermanentJobError)
    assert (
        str(error) == f"HTTP {status} from https://api.example.com/x (expected 2xx): gone for good"
    )


@pytest.mark.parametrize("status", [429, 503, 404])
def test_failure_messages_leave_out_the_query_string(status: int) -> None:
    error = failure(status, "https://api.example.com/x?token=t0ps3cret", (), None, "")

    assert str(error).startswith(f"HTTP {status} from https://api.example.com/x")
    assert "t0ps3cret" not in str(error)


def test_expected_statuses_replace_the_2xx_default() -> None:
    assert failure(404, "u", [200, 404], None, "") is None
    assert failure(204, "u", (), None, "") is None
    assert isinstance(failure(200, "u", [201], None, ""), PermanentJobError)


def test_redirect_303_turns_into_get_and_cross_origin_drops_secrets() -> None:
    request = Outgoing(
        "POST",
        "https://api.example.com/pay",
        {"Authorization": "Bearer s3cret", "X-Token": "t", "Content-Type": "application/json"},
        b"{}",
        sensitive=frozenset({"X-Token"}),
    )

    same_origin = redirected(request, 307, "/pay/v2")
    other = redirected(request, 303, "https://elsewhere.example.net/done")

    assert (same_origin.method, same_origin.content) == ("POST", b"{}")
    assert same_origin.url == "https://api.example.com/pay/v2"
    assert "Authorization" in same_origin.headers
    assert (other.method, other.content) == ("GET", None)
    assert other.headers == {}


def test_response_body_is_cut_off_past_the_limit() -> None:
    small = httpx.Response(200, content=b"x" * 10)
    large = httpx.Response(200, content=b"x" * 11)

    assert read_capped(small, 10, "u") == b"x" * 10
    with pytest.raises(PermanentJobError, match="larger than the 10-byte limit"):
        read_capped(large, 10, "u")
