"""SSRF protection: URLs are checked on their resolved addresses, whatever their spelling."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import httpx
import pytest

from jobs.errors import InvalidJobParams, PermanentJobError
from jobs.outbound import guard
from jobs.registry import job_type, validate

REFUSED = [
    ("http://127.0.0.1/", "loopback"),
    ("http://localhost:8080/hook", "loopback"),
    ("http://2130706433/", "loopback"),  # 127.0.0.1 as one decimal number
    ("http://0x7f000001/", "loopback"),  # ... in hex
    ("http://127.1/", "loopback"),  # ... abbreviated
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),  # IPv4-mapped IPv6
    ("http://[2002:7f00:1::1]/", "loopback"),  # 6to4 around 127.0.0.1
    ("http://10.1.2.3/", "private"),
    ("http://172.16.0.1/", "private"),
    ("https://192.168.1.10/", "private"),
    ("http://[fd12:3456::1]/", "private"),
    ("http://100.64.0.7/", "shared (carrier-grade NAT)"),
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("http://[fd00:ec2::254]/", "cloud metadata"),
    ("http://[64:ff9b::a9fe:a9fe]/", "cloud metadata"),  # NAT64 around 169.254.169.254
    ("http://100.100.100.200/", "cloud metadata"),
    ("http://169.254.1.1/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://224.0.0.251/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://0.0.0.0:8000/", "this-network"),
    ("http://240.0.0.1/", "reserved"),
    ("http://192.0.2.1/", "reserved"),
]


@pytest.mark.parametrize(("url", "kind"), REFUSED)
def test_non_public_addresses_are_refused(url: str, kind: str) -> None:
    with pytest.raises(PermanentJobError, match=re.escape(f"a {kind} address")):
        guard.resolve(httpx.URL(url))


@pytest.mark.parametrize(
    ("url", "address"),
    [("http://93.184.216.34/", "93.184.216.34"), ("https://[2606:4700::1111]/", "2606:4700::1111")],
)
def test_public_addresses_pass_and_are_returned_for_pinning(url: str, address: str) -> None:
    assert guard.resolve(httpx.URL(url)) == address


def test_allow_list_exempts_exact_host_and_port_only() -> None:
    allow = ["127.0.0.1:8080", "[::1]"]

    assert guard.resolve(httpx.URL("http://127.0.0.1:8080/x"), allow) == "127.0.0.1"
    assert guard.resolve(httpx.URL("http://[::1]:9999/"), allow) == "::1"
    for other in ("http://127.0.0.1:8081/", "http://localhost:8080/", "http://2130706433:8080/"):
        with pytest.raises(PermanentJobError, match="loopback"):
            guard.resolve(httpx.URL(other), allow)


def test_embedded_ipv4_is_checked() -> None:
    assert guard.forbidden(ipaddress.ip_address("::ffff:8.8.8.8")) is None
    assert guard.forbidden(ipaddress.ip_address("::ffff:10.0.0.1")) == "private"
    assert guard.forbidden(ipaddress.ip_address("64:ff9b::808:808")) is None


def test_unresolvable_host_is_a_retryable_connection_error() -> None:
    with pytest.raises(ConnectionError, match="cannot resolve"):
        guard.resolve(httpx.URL("http://no-such-host.invalid/"))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/file", "must use http or https; got scheme 'ftp'"),
        ("file:///etc/passwd", "must use http or https; got scheme 'file'"),
        ("gopher://example.com:70/", "must use http or https"),
        ("javascript:alert(1)", "must use http or https"),
        ("/relative/path", "must use http or https; got scheme ''"),
        ("https://user:pw@example.com/", "must not carry credentials"),
        ("http://0177.0.0.1/", "must be an absolute http"),
        ("https://" + "a" * 2000 + ".com/", "at most 2000 characters"),
    ],
)
def test_bad_urls_are_refused_at_submit(url: str, message: str) -> None:
    jobs: list[tuple[str, dict[str, Any]]] = [
        ("webhook", {"url": url, "secret_block": "hook-secret", "event": "e", "payload": {}}),
        ("api_call", {"url": url}),
    ]
    for kind, params in jobs:
        with pytest.raises(InvalidJobParams, match=rf"url: .*{message}"):
            validate(job_type(kind), params)
