"""Outgoing requests pinned to checked addresses, with redirects followed by hand and
response bodies read up to a size limit.

Each hop is checked (scheme, resolved addresses), rate-limited for its host, and sent to the
address that passed the check: the URL names the IP, the ``Host`` header and the TLS server
name (SNI, and so certificate verification) keep the original host name.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from types import TracebackType

import httpx

from jobs import titles
from jobs.errors import PermanentJobError
from jobs.outbound import guard
from jobs.settings import Settings

REDIRECTS = frozenset({301, 302, 303, 307, 308})
ALWAYS_SENSITIVE = frozenset({"authorization", "proxy-authorization", "cookie"})
Throttle = Callable[[str], None]


@dataclass(frozen=True)
class Outgoing:
    """One request to send; ``sensitive`` headers are dropped on a redirect to another origin."""

    method: str
    url: str
    headers: dict[str, str]
    content: bytes | None = None
    sensitive: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Reply:
    """The final response: status, headers, body (within the size limit) and its URL."""

    status: int
    headers: httpx.Headers
    body: bytes
    url: str


class Session:
    """Sends :class:`Outgoing` requests for one attempt; one connection pool per host."""

    def __init__(self, settings: Settings, throttle: Throttle) -> None:
        self.settings = settings
        self.throttle = throttle
        self.elapsed_ms = 0.0
        self._clients: dict[tuple[str, str, int], httpx.Client] = {}

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for client in self._clients.values():
            client.close()

    def send(self, request: Outgoing) -> Reply:
        """Send ``request``, following up to the configured number of redirects."""
        for _hop in range(self.settings.http_max_redirects + 1):
            reply = self._hop(request)
            location = reply.headers.get("location")
            if reply.status not in REDIRECTS or not location:
                return reply
            request = redirected(request, reply.status, location)
        raise PermanentJobError(
            f"more than {self.settings.http_max_redirects} redirects; "
            f"the last to {titles.without_query(request.url)}"
        )

    def _hop(self, request: Outgoing) -> Reply:
        try:
            url = httpx.URL(guard.check_url(request.url))
        except ValueError as exc:
            where = titles.without_query(request.url)
            raise PermanentJobError(f"refused to call {where!r}: URL {exc}") from None
        self.throttle(guard.ascii_host(url))
        address = guard.resolve(url, self.settings.http_allow_hosts)
        started = time.perf_counter()
        try:
            return self._exchange(request, url, address)
        finally:
            self.elapsed_ms += (time.perf_counter() - started) * 1000

    def _exchange(self, request: Outgoing, url: httpx.URL, address: str) -> Reply:
        headers = httpx.Headers({"Accept-Encoding": "identity"})
        headers.update(request.headers)
        headers["Host"] = _host_header(url)
        extensions = {"sni_hostname": guard.ascii_host(url)} if url.scheme == "https" else {}
        with self._client(url).stream(
            request.method,
            url.copy_with(host=address),
            headers=headers,
            content=request.content,
            extensions=extensions,
        ) as response:
            body = read_capped(response, self.settings.http_max_response_bytes, request.url)
        return Reply(response.status_code, response.headers, body, request.url)

    def _client(self, url: httpx.URL) -> httpx.Client:
        key = guard.host_port(url)
        origin = (url.scheme, *key)
        if origin not in self._clients:
            self._clients[origin] = httpx.Client(
                verify=_tls_context(),
                timeout=self.settings.http_timeout_seconds,
                follow_redirects=False,
                trust_env=False,
            )
        return self._clients[origin]


@cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process (loading the CA bundle takes tens of ms)."""
    return httpx.create_ssl_context()


def _host_header(url: httpx.URL) -> str:
    host, port = guard.host_port(url)
    return host if port == guard.DEFAULT_PORTS[url.scheme] else f"{host}:{port}"


def read_capped(response: httpx.Response, limit: int, url: str) -> bytes:
    """The response body, or PermanentJobError as soon as it exceeds ``limit`` bytes."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(url, limit, f"it declares {declared} bytes")
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > limit:
            raise _too_large(url, limit, f"cut off after {len(body)} bytes")
    return bytes(body)


def _too_large(url: str, limit: int, how: str) -> PermanentJobError:
    return PermanentJobError(
        f"response from {titles.without_query(url)} is larger than the {limit}-byte limit "
        f"(JOBS_HTTP_MAX_RESPONSE_BYTES): {how}"
    )


def redirected(request: Outgoing, status: int, location: str) -> Outgoing:
    """The request to send after a ``status`` redirect to ``location`` (relative or absolute)."""
    old = httpx.URL(request.url)
    try:
        new = old.join(location)
    except httpx.InvalidURL as exc:
        where = titles.without_query(request.url)
        raise PermanentJobError(f"{where} redirects to an invalid URL: {exc}") from None
    headers = dict(request.headers)
    if (new.scheme, new.host, new.port) != (old.scheme, old.host, old.port):
        dropped = ALWAYS_SENSITIVE | {name.lower() for name in request.sensitive}
        headers = {k: v for k, v in headers.items() if k.lower() not in dropped}
    method, content = request.method, request.content
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method, content = "GET", None
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    return replace(request, url=str(new), method=method, headers=headers, content=content)
