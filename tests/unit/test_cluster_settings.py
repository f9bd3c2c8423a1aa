"""The cluster's settings: auth whenever the API is exposed, its network plan, its passwords."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from jobs import services
from jobs.cluster import Cluster
from jobs.cluster.network import Network
from jobs.settings import Settings


@pytest.mark.parametrize("host", ["0.0.0.0", "10.231.0.1", "api.example.com"])
def test_an_api_bound_beyond_loopback_needs_a_password(host: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(server_host=host)
    message = str(refused.value)
    assert "server_auth" in message and repr(host) in message


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_a_loopback_api_needs_none(host: str) -> None:
    assert Settings(server_host=host).server_auth is None


def test_the_password_reaches_server_and_clients_and_child_processes(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, server_host="0.0.0.0", server_auth=SecretStr("u:p w"))
    env = services.prefect_env(settings)
    assert env["PREFECT_SERVER_API_AUTH_STRING"] == env["PREFECT_API_AUTH_STRING"] == "u:p w"
    assert env["JOBS_SERVER_AUTH"] == "u:p w"  # not pydantic's "**********"


def test_the_network_plan() -> None:
    network = Network("jobs", "10.231.0.0/24", 3)
    assert network.server_address == "10.231.0.1"
    assert [h.address for h in network.hosts] == ["10.231.0.11", "10.231.0.12", "10.231.0.13"]
    assert [h.namespace for h in network.hosts] == ["jobs-h1", "jobs-h2", "jobs-h3"]
    assert network.hosts[0].run(["true"]) == ["ip", "netns", "exec", "jobs-h1", "true"]
    assert all(len(h.link) <= 15 for h in Network("abcdefghij", "10.0.0.0/24", 9).hosts)


@pytest.mark.parametrize(
    ("name", "network", "hosts", "says"),
    [
        ("much-too-long", "10.231.0.0/24", 2, "1-10 letters"),
        ("bad name", "10.231.0.0/24", 2, "1-10 letters"),
        ("jobs", "10.231.0.0/29", 2, "too small"),
    ],
)
def test_a_network_plan_that_cannot_work_is_refused(
    name: str, network: str, hosts: int, says: str
) -> None:
    with pytest.raises(ValueError, match=says):
        Network(name, network, hosts)


def test_passwords_are_made_once_kept_private_and_given_ones_win(tmp_path: Path) -> None:
    first = Cluster(Settings(home=tmp_path), lambda line: None)
    again = Cluster(Settings(home=tmp_path), lambda line: None)
    assert first.settings.server_auth == again.settings.server_auth
    assert first.settings.database_url == again.settings.database_url
    assert first.settings.server_auth is not None
    assert first.settings.server_auth.get_secret_value().startswith("jobs:")
    kept = tmp_path / "cluster" / "secrets.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    given = Cluster(Settings(home=tmp_path, postgres_password=SecretStr("chosen")), print)
    assert given.settings.database_url is not None and ":chosen@" in given.settings.database_url
    assert given.settings.api_url.startswith("http://10.231.0.1:")  # the cluster address
