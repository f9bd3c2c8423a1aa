"""SSRF protection: only public addresses are called, checked after DNS resolution.

At submit time a URL must be an absolute http(s) URL without credentials (:func:`check_url`).
At run time its host is resolved and *every* address it resolves to must be public
(:func:`resolve`); the request then connects to the checked address itself, so a second DNS
answer cannot point it elsewhere (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

import httpx

from jobs.errors import PermanentJobError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL_LENGTH = 2000
DEFAULT_PORTS = {"http": 80, "https": 443}
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
_NETWORKS = {
    "this-network": ["0.0.0.0/8", "::/128"],
    "loopback": ["127.0.0.0/8", "::1/128"],
    "private": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
    "shared (carrier-grade NAT)": ["100.64.0.0/10"],
    "link-local": ["169.254.0.0/16", "fe80::/10", "fec0::/10"],
    "multicast": ["224.0.0.0/4", "ff00::/8"],
    "reserved": [
        "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "198.18.0.0/15", "198.51.100.0/24",
        "203.0.113.0/24", "240.0.0.0/4", "::/96", "100::/64", "2001::/23", "2001:db8::/32",
    ],
}  # fmt: skip
BLOCKED = [(ipaddress.ip_network(net), kind) for kind, nets in _NETWORKS.items() for net in nets]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def check_url(value: str) -> str:
    """``value`` if it is an absolute http(s) URL with a host and no credentials."""
    if len(value) > MAX_URL_LENGTH:
        raise ValueError(f"must be at most {MAX_URL_LENGTH} characters; got {len(value)}")
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError(f"must be an absolute http(s) URL; got {value!r} ({exc})") from None
    if url.scheme not in DEFAULT_PORTS:
        raise ValueError(f"must use http or https; got scheme {url.scheme!r} in {value!r}")
    if not url.host:
        raise ValueError(f"must name a host; got {value!r}")
    if url.userinfo:
        raise ValueError("must not carry credentials (user:password@); use a Secret block")
    return value


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, 6to4 or NAT64 IPv6 address."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped or ip.sixtofour:
        return ip.ipv4_mapped or ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def forbidden(ip: IPAddress) -> str | None:
    """Why ``ip`` may not be called (e.g. "loopback"), or None for a public address."""
    ip = embedded_ipv4(ip) or ip
    if ip in METADATA:
        return "cloud metadata"
    for network, kind in BLOCKED:
        if ip.version == network.version and ip in network:
            return kind
    return None if ip.is_global else "non-public"


def ascii_host(url: httpx.URL) -> str:
    """The URL's host as sent on the wire: IDNA-encoded, lower case, IPv6 without brackets."""
    return url.raw_host.decode("ascii").lower()


def host_port(url: httpx.URL) -> tuple[str, int]:
    """The URL's host (IPv6 in brackets) and port, default port filled in."""
    host = ascii_host(url)
    return (f"[{host}]" if ":" in host else host), url.port or DEFAULT_PORTS[url.scheme]


def is_allowed(url: httpx.URL, allow_hosts: Iterable[str]) -> bool:
    """Whether ``url`` names one of the exempt ``host`` or ``host:port`` entries exactly."""
    host, port = host_port(url)
    entries = {entry.strip().lower() for entry in allow_hosts}
    return host in entries or f"{host}:{port}" in entries


def resolve(url: httpx.URL, allow_hosts: Iterable[str] = ()) -> str:
    """The address to connect to for ``url``: every address its host resolves to must be
    public (PermanentJobError otherwise); DNS failures raise ConnectionError (retried)."""
    host, port = ascii_host(url), url.port or DEFAULT_PORTS[url.scheme]
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ConnectionError(f"cannot resolve host {host!r}: {exc}") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    if not addresses:
        raise ConnectionError(f"host {host!r} resolves to no address")
    if not is_allowed(url, allow_hosts):
        for address in addresses:
            if kind := forbidden(ipaddress.ip_address(address.split("%")[0])):
                raise PermanentJobError(
                    f"refused to call {host!r}: it resolves to {address}, a {kind} address "
                    "(only public addresses may be called)"
                )
    return addresses[0]
