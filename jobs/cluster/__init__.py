"""The production topology on one machine (``make cluster``): PostgreSQL, Redis, several
Prefect API processes and a services process on the server host, workers on hosts of their
own (network namespaces). See :mod:`jobs.cluster.topology`."""

from jobs.cluster.topology import Cluster

__all__ = ["Cluster"]
