"""A smoke of the production topology (``make cluster``), for real: PostgreSQL, Redis, two
Prefect API processes, a services process, the recovery service and relay on this machine; a
warm worker on each of two worker hosts (network namespaces) reaching the API over their link.

It is started twice on one home (a second start finds the same data and passwords), runs jobs
on both worker hosts, kills one host's worker and sees its job recovered. The full fault suite
is ``make faults``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobs.client import Client
from jobs.cluster import Cluster
from jobs.settings import Settings
from jobs.status import JobState, JobStatus
from tests.support.cluster import FAST
from tests.support.polling import wait_until
from tests.support.ports import free_port

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="worker hosts need root (netns)")


@pytest.fixture(scope="module")
def home() -> Iterator[Path]:
    # not under pytest's own temporary folder: the postgres user must reach the data folder
    folder = Path(tempfile.mkdtemp(prefix="jobs-cluster-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def settings(home: Path) -> Settings:
    return Settings.model_validate(
        {
            **FAST,
            "home": home,
            "cluster_name": f"jt{os.getpid() % 10000}",
            "cluster_network": "10.233.0.0/24",
            "cluster_api_processes": 2,
            "server_port": free_port(),
            "postgres_port": free_port(),
            "redis_port": free_port(),
            "dev_smtp_port": (port := free_port()),
            "smtp_port": port,
            "dev_webhook_port": free_port(),
            "worker_limit": 1,
        }
    )


@pytest.fixture(scope="module")
def cluster(settings: Settings) -> Iterator[Cluster]:
    first = Cluster(settings, lambda line: None)
    first.start()
    first.stop()
    again = Cluster(settings, lambda line: None, settle_seconds=5)
    assert again.settings.server_auth == first.settings.server_auth  # kept, not made anew
    again.start()  # on the data of the first: running it twice is safe
    try:
        yield again
    finally:
        again.stop()


def secrets_of(cluster: Cluster) -> list[str]:
    kept: dict[str, str] = json.loads((cluster.home / "secrets.json").read_text())
    return [value.split(":")[-1] for value in kept.values()]


def test_the_exposed_api_refuses_requests_without_its_password(cluster: Cluster) -> None:
    api = cluster.settings.api_url
    assert not api.startswith("http://127."), api  # on the cluster address, not loopback
    refused = httpx.post(f"{api}/flow_runs/filter", json={"limit": 1})
    assert refused.status_code == 401, refused.text
    wrong = httpx.post(f"{api}/flow_runs/filter", json={"limit": 1}, auth=("jobs", "guess"))
    assert wrong.status_code == 401
    assert cluster.settings.server_auth is not None
    user, password = cluster.settings.server_auth.get_secret_value().split(":", 1)
    allowed = httpx.post(f"{api}/flow_runs/filter", json={"limit": 1}, auth=(user, password))
    assert allowed.status_code == 200, allowed.text
    assert httpx.get(f"{api}/health").status_code == 200  # probes need none


def test_the_dev_receivers_listen_on_their_hosts_loopback_only(cluster: Cluster) -> None:
    for host in cluster.network.hosts:
        for port in (cluster.settings.dev_smtp_port, cluster.settings.dev_webhook_port):
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"http://{host.address}:{port}/", timeout=3)


def started_on(cluster: Cluster, job_id: str) -> list[str]:
    """The worker hosts whose worker log says it started ``job_id``'s run."""
    return [
        host.name
        for host in cluster.network.hosts
        if f"started flow run {job_id}"
        in (cluster.logs / f"{host.name}-worker.log").read_text(errors="replace")
    ]


def said(status: JobStatus) -> str:
    return (
        f"{status.state} ({status.prefect_state}), attempts {status.attempts}, "
        f"failure {status.failure_reason!r}, recoveries {status.recoveries}"
    )


def test_jobs_run_on_both_hosts_and_a_killed_workers_job_is_recovered(cluster: Cluster) -> None:
    client = Client(cluster.settings)
    slow = {
        name: client.submit("ping", {"note": name, "seconds": 15}, lane="flow")
        for name in ("a", "b")
    }
    ids = {name: str(job.id) for name, job in slow.items()}
    wait_until(
        lambda: all(started_on(cluster, job_id) for job_id in ids.values()),
        90,
        lambda: f"both started: { {n: started_on(cluster, i) for n, i in ids.items()} }",
    )
    hosts = {name: started_on(cluster, job_id) for name, job_id in ids.items()}
    assert sorted(hosts["a"] + hosts["b"]) == ["host1", "host2"], hosts  # one job per host

    killed = hosts["a"][0]
    host = next(h for h in cluster.network.hosts if h.name == killed)
    cluster.signal(cluster.worker_name(host), signal.SIGKILL)

    emails = [
        client.submit(
            "email", {"to": [f"cluster-{n}@example.com"], "subject": "hi", "text": "over PG"}
        )
        for n in range(5)
    ]
    # Crashed first (its worker is gone), then re-run by the recovery service
    wait_until(
        lambda: client.status(slow["a"]).state == JobState.COMPLETED,
        180,
        lambda: f"the killed worker's job completed: {said(client.status(slow['a']))}",
    )
    recovered = client.status(slow["a"])
    assert recovered.state == JobState.COMPLETED, said(recovered)
    assert recovered.attempts >= 2 and recovered.recoveries, said(recovered)  # re-run after loss
    other = client.wait(slow["b"], timeout=120)
    assert other.state == JobState.COMPLETED and other.attempts == 1, said(other)
    for email in emails:
        status = client.wait(email, timeout=120)
        assert status.state == JobState.COMPLETED and status.lane == "batch", status
    mail = [p.read_text() for p in (cluster.settings.maildir / "new").glob("*")]
    for n in range(5):  # delivered by a worker host's own SMTP server, once
        assert sum(f"cluster-{n}@example.com" in text for text in mail) == 1


def test_no_password_reaches_a_log_or_the_api(cluster: Cluster) -> None:
    logs = "".join(p.read_text(errors="replace") for p in cluster.logs.glob("*.log"))
    assert cluster.settings.server_auth is not None
    auth = cluster.settings.server_auth.get_secret_value().split(":", 1)
    seen: dict[str, Any] = {}
    for path in ("flow_runs/filter", "deployments/filter", "work_pools/filter", "variables/filter"):
        seen[path] = httpx.post(f"{cluster.settings.api_url}/{path}", json={}, auth=tuple(auth))
    for secret in secrets_of(cluster):
        assert secret not in logs
        for path, reply in seen.items():
            assert reply.status_code == 200 and secret not in reply.text, path
