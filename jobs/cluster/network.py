"""The cluster's virtual network: a bridge for the server host, a network namespace per
worker host.

The server host is this machine's own network namespace; the bridge (``<name>br``) gives it
the first address of ``JOBS_CLUSTER_NETWORK``. Worker host ``i`` is the namespace
``<name>-h<i>``, joined to the bridge by a veth pair (``<name>h<i>`` outside, ``eth0`` inside)
with the (10 + i)th address, and its own loopback. To the network stack the hosts are separate
machines: a worker host reaches the server only over its link, and :meth:`Network.cut` takes the
link down (packets are dropped, connections hang, as when a cable is pulled).

Needs root (CAP_NET_ADMIN) and ``ip`` (iproute2).
"""

from __future__ import annotations

import ipaddress
import subprocess
from dataclasses import dataclass


def _ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True)


@dataclass(frozen=True)
class WorkerHost:
    """A worker host: its name, network namespace, outer link and address."""

    name: str
    namespace: str
    link: str
    address: str

    def run(self, args: list[str]) -> list[str]:
        """``args`` as a command run on this host."""
        return ["ip", "netns", "exec", self.namespace, *args]


class Network:
    """The bridge and the worker hosts of one cluster (``name``: ten characters at most)."""

    def __init__(self, name: str, network: str, hosts: int) -> None:
        if not (0 < len(name) <= 10 and name.replace("-", "").isalnum()):
            raise ValueError(f"cluster name must be 1-10 letters, digits or '-'; got {name!r}")
        net = ipaddress.ip_network(network)
        addresses = list(net.hosts())
        if len(addresses) < 11 + hosts:
            raise ValueError(f"cluster network {network} is too small for {hosts} worker hosts")
        self.prefix = net.prefixlen
        self.bridge = f"{name}br"
        self.server_address = str(addresses[0])
        self.hosts = [
            WorkerHost(f"host{i}", f"{name}-h{i}", f"{name}h{i}", str(addresses[9 + i]))
            for i in range(1, hosts + 1)
        ]

    def exists(self) -> bool:
        """Whether the bridge is there (a cluster of this name runs, or one left it behind)."""
        return (
            subprocess.run(["ip", "link", "show", self.bridge], capture_output=True).returncode == 0
        )

    def create(self) -> None:
        """Build the bridge and the hosts afresh (what an earlier run left is removed first)."""
        self.remove()
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.server_address}/{self.prefix}", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for host in self.hosts:
            _ip("netns", "add", host.namespace)
            _ip("link", "add", host.link, "type", "veth", "peer", "name", "eth0",
                "netns", host.namespace)  # fmt: skip
            _ip("link", "set", host.link, "master", self.bridge)
            _ip("link", "set", host.link, "up")
            inside = ["-n", host.namespace]
            _ip(*inside, "addr", "add", f"{host.address}/{self.prefix}", "dev", "eth0")
            _ip(*inside, "link", "set", "eth0", "up")
            _ip(*inside, "link", "set", "lo", "up")

    def cut(self, host: WorkerHost) -> None:
        """Cut ``host`` off: its link goes down, whatever it sends is lost."""
        _ip("link", "set", host.link, "down")

    def restore(self, host: WorkerHost) -> None:
        """Bring ``host``'s link back."""
        _ip("link", "set", host.link, "up")

    def remove(self) -> None:
        """Delete the hosts and the bridge (those that exist)."""
        for host in self.hosts:
            _ip("netns", "delete", host.namespace, check=False)
            _ip("link", "delete", host.link, check=False)
        _ip("link", "delete", self.bridge, check=False)
