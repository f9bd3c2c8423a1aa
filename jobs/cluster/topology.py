"""The production topology on one machine: ``make cluster`` (``python -m jobs cluster``).

::

    server host (this machine's namespace)                worker hosts (network namespaces)
    ┌─────────────────────────────────────────────┐        ┌──────────────────────────────┐
    │ PostgreSQL  prefect + jobs databases  :5432*│◄───────┤ host1  warm worker           │
    │ Redis       messaging, cache, leases  lo    │  link  │        SMTP + HTTP receivers │
    │ Prefect API, N processes (--workers)  :4200*│◄───────┤        (its own loopback)    │
    │ Prefect services (scheduler, recorder, ...) │        ├──────────────────────────────┤
    │ recovery service, relay                     │◄───────┤ host2  ... the same         │
    └─────────────────────────────────────────────┘        └──────────────────────────────┘
      * on the cluster address (JOBS_CLUSTER_NETWORK's first), basic auth on the API

Every process is supervised: one that dies is started again. Passwords not given as settings
(``JOBS_SERVER_AUTH``, ``JOBS_POSTGRES_PASSWORD``, ``JOBS_REDIS_PASSWORD``) are made on first
start and kept in ``<home>/cluster/secrets.json`` (mode 600), so a second start finds the same
data. All state lives under ``<home>/cluster``.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from pydantic import SecretStr

from jobs import services
from jobs.cluster.network import Network, WorkerHost
from jobs.cluster.postgres import Postgres
from jobs.settings import DEV_HOST, Settings
from jobs.supervisor import Supervisor

SECRETS = ("server_auth", "postgres_password", "redis_password")
# done once beforehand by jobs.cluster.prefect_db, not by each API process as it starts
OFF_AT_START = {
    "PREFECT_SERVER_DATABASE_MIGRATE_ON_START": "false",
    "PREFECT_API_BLOCKS_REGISTER_ON_START": "false",
}


def _secrets(path: Path, settings: Settings) -> dict[str, str]:
    """The cluster's passwords: the settings' where given, else those kept in ``path``, else
    new ones (then kept)."""
    kept: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    for name in SECRETS:
        given = getattr(settings, name)
        if given is not None:
            kept[name] = given.get_secret_value()
        elif name not in kept:
            token = secrets.token_urlsafe(24)
            kept[name] = f"jobs:{token}" if name == "server_auth" else token
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(kept, indent=2))
    return kept


def _wait_for_port(host: str, port: int, process: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}; see its log")
        with socket.socket() as sock:
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"{name} did not listen on {host}:{port} in 60 s")


class Cluster:
    """Starts the topology (:meth:`start`), injects faults, stops it all (:meth:`stop`).

    ``settings`` are the operator's; :attr:`settings` those every cluster process runs with
    (home ``<home>/cluster``, the API on the cluster address with basic auth, both databases on
    PostgreSQL). ``settle_seconds``: see :class:`~jobs.supervisor.Supervisor`.
    """

    def __init__(
        self,
        settings: Settings,
        say: Callable[[str], None] = print,
        *,
        settle_seconds: float = 30,
    ) -> None:
        self.say = say
        self.home = settings.home.resolve() / "cluster"
        self.network = Network(
            settings.cluster_name, settings.cluster_network, settings.cluster_worker_hosts
        )
        kept = _secrets(self.home / "secrets.json", settings)
        self.redis_password = kept["redis_password"]
        address = self.network.server_address
        self.postgres = Postgres(
            self.home / "postgres",
            settings.postgres_port,
            ["127.0.0.1", address],
            settings.cluster_network,
            kept["postgres_password"],
        )
        self.settings = settings.model_copy(
            update={
                "home": self.home,
                "server_host": address,
                "prefect_api_url": None,
                "server_auth": SecretStr(kept["server_auth"]),
                "prefect_database_url": self.postgres.url("prefect", "asyncpg"),
                "database_url": self.postgres.url("jobs", "psycopg", host=address),
                "http_allow_hosts": [
                    *settings.http_allow_hosts,
                    f"{DEV_HOST}:{settings.dev_webhook_port}",
                ],
            }
        )
        self.supervisor = Supervisor(say, settle_seconds=settle_seconds)
        self.logs = self.home / "logs"

    # -- the parts ------------------------------------------------------------------------------

    def redis_url(self, db: int) -> str:
        return f"redis://:{self.redis_password}@127.0.0.1:{self.settings.redis_port}/{db}"

    def server_env(self) -> dict[str, str]:
        """What the API and services processes add to Prefect's environment: Redis for
        messaging, cache, causal ordering, concurrency leases and docket."""
        return {
            "PREFECT_MESSAGING_BROKER": "prefect_redis.messaging",
            "PREFECT_MESSAGING_CACHE": "prefect_redis.messaging",
            "PREFECT_SERVER_EVENTS_CAUSAL_ORDERING": "prefect_redis.ordering",
            "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect_redis.lease_storage",
            "PREFECT_REDIS_MESSAGING_URL": self.redis_url(0),
            "PREFECT_SERVER_DOCKET_URL": self.redis_url(1),
            **OFF_AT_START,
        }

    def _start_redis(self) -> subprocess.Popen[bytes]:
        folder = self.home / "redis"
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "redis.conf"  # the password stays off the command line
        config.touch(mode=0o600)
        config.write_text(
            f"bind 127.0.0.1\nport {self.settings.redis_port}\nrequirepass {self.redis_password}\n"
            f'dir {folder}\nappendonly yes\nappendfsync everysec\nsave ""\ndaemonize no\n'
        )
        return self._spawn(["redis-server", str(config)], "redis")

    def _spawn(self, args: list[str], name: str, **env: str) -> subprocess.Popen[bytes]:
        return services.spawn(args, self.settings, name, **env)

    def _start_api(self) -> subprocess.Popen[bytes]:
        args = services.prefect_cli("server", "start", "--host", self.settings.server_host)
        args += ["--port", str(self.settings.server_port)]
        args += ["--workers", str(self.settings.cluster_api_processes)]
        args += ["--no-services"]  # (implied by --workers 2+) they run in their own process
        return self._spawn(args, "api", **self.server_env())

    def _start_services(self) -> subprocess.Popen[bytes]:
        args = services.prefect_cli("server", "services", "start")
        return self._spawn(args, "prefect-services", **self.server_env())

    def _on(self, host: WorkerHost, command: str, *args: str) -> subprocess.Popen[bytes]:
        argv = host.run([sys.executable, "-m", "jobs", command, *args])
        return self._spawn(argv, f"{host.name}-{command}")

    def start(self) -> None:
        """Bring everything up, in order; raises (after stopping what started) on failure."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        started = time.monotonic()
        if os.geteuid() != 0:
            raise SystemExit("the cluster's worker hosts are network namespaces: run it as root")
        # (before the bridge exists its address is not local: no answer means nothing)
        if self.network.exists() and services.port_in_use(
            self.settings.server_host, self.settings.server_port
        ):
            raise SystemExit(
                f"a cluster named {self.network.bridge.removesuffix('br')!r} is running (its "
                "API answers): stop it, or set JOBS_CLUSTER_NAME, _NETWORK and the ports"
            )
        self.network.create()
        taken = [
            f"{host}:{port}"
            for host, port in [
                (self.settings.server_host, self.settings.server_port),
                ("127.0.0.1", self.settings.postgres_port),
                ("127.0.0.1", self.settings.redis_port),
            ]
            if services.port_in_use(host, port)
        ]
        if taken:
            raise SystemExit(f"already in use: {', '.join(taken)} (set other JOBS_*_PORT values)")
        self.postgres.init()
        log = self.logs / "postgres.log"
        self.logs.mkdir(parents=True, exist_ok=True)
        postgres = self.supervisor.add("PostgreSQL", lambda: self.postgres.start(log))
        self.postgres.wait(postgres)
        redis = self.supervisor.add("Redis", self._start_redis)
        _wait_for_port("127.0.0.1", self.settings.redis_port, redis, "Redis")
        self._run([sys.executable, "-m", "jobs.cluster.prefect_db"], **self.server_env())
        self._run([sys.executable, "-m", "jobs", "migrate"])
        api = self.supervisor.add("Prefect API", self._start_api)
        self.supervisor.add("Prefect services", self._start_services)
        services.wait_for_server(self.settings, api)
        self._run([sys.executable, "-m", "jobs", "setup"])
        services.deploy(self.settings)
        self._run([sys.executable, "-m", "jobs", "setup"])  # automations need the deployments
        self.supervisor.add("recovery service", lambda: services.start_recovery(self.settings))
        self.supervisor.add("relay", lambda: services.start_relay(self.settings))
        for host in self.network.hosts:
            self.supervisor.add(
                f"{host.name} SMTP server", functools.partial(self._on, host, "smtp")
            )
            receiver = functools.partial(self._on, host, "webhooks")
            self.supervisor.add(f"{host.name} HTTP receiver", receiver)
            worker = functools.partial(self._on, host, "worker", "--name", f"{host.name}-worker")
            self.supervisor.add(self.worker_name(host), worker)
        self.say(f"Cluster ready in {time.monotonic() - started:.0f} s.")

    def _run(self, args: list[str], **env: str) -> None:
        with (self.logs / "setup.log").open("ab") as out:
            subprocess.run(
                args,
                cwd=services.PROJECT_DIR,
                env={**services.prefect_env(self.settings), **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                check=True,
            )

    def write_client_env(self) -> Path:
        """A file of the settings an application on this machine needs to submit jobs to the
        cluster (``set -a; . FILE``); mode 600, as it holds the passwords."""
        path = self.home / "client.env"
        path.touch(mode=0o600)
        keep = ("HOME", "SERVER_HOST", "SERVER_PORT", "SERVER_AUTH", "DATABASE_URL")
        env = services.settings_env(self.settings)
        path.write_text(
            "".join(f"JOBS_{name}={shlex.quote(env[f'JOBS_{name}'])}\n" for name in keep)
        )
        return path

    @staticmethod
    def worker_name(host: WorkerHost) -> str:
        return f"{host.name} worker"

    # -- faults -----------------------------------------------------------------------------

    def process(self, name: str) -> subprocess.Popen[bytes]:
        """The current process of a part (``"Prefect API"``, ``"host1 worker"``, ...)."""
        return self.supervisor.process(name)

    def signal(self, name: str, signum: int = signal.SIGKILL) -> int:
        """Send ``signum`` to a part's process (the supervisor starts it again); its pid."""
        process = self.process(name)
        os.kill(process.pid, signum)
        return process.pid

    def api_processes(self) -> list[int]:
        """The pids of the API's worker processes: the children ``prefect server start
        --workers N`` spawned (uvicorn starts a new one when one dies)."""
        parent = str(self.process("Prefect API").pid)
        found = []
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                spawned = b"spawn_main" in (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if fields[1] == parent and spawned:
                found.append(int(proc.name))
        return sorted(found)

    # -- stopping ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop every process (workers first, databases last) and remove the network."""
        processes = self.supervisor.stop()
        postgres = processes[:1] if processes else []  # started first
        services.stop(list(reversed(processes[1:])), grace=30)
        for process in postgres:  # SIGINT: fast shutdown (SIGTERM waits for every session)
            if process.poll() is None:
                os.kill(process.pid, signal.SIGINT)
            process.wait(timeout=60)
        self.network.remove()

    def __enter__(self) -> Cluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
