"""Start the parts of the system as child processes: Prefect server, worker, dev SMTP server.

Used by ``python -m jobs up``, the tests and the benchmarks, so all three run the same way.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import certifi
import httpx
from pydantic import SecretStr

from jobs.settings import Settings

PROJECT_DIR = Path(__file__).resolve().parent.parent


def settings_env(settings: Settings) -> dict[str, str]:
    """``settings`` as JOBS_* variables, so child processes read the same settings."""
    env = {}
    for name, value in settings.model_dump(mode="json", exclude_none=True).items():
        secret = getattr(settings, name)
        if isinstance(secret, SecretStr):  # dumped as "**********"
            value = secret.get_secret_value()
        env[f"JOBS_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    env["JOBS_HOME"] = str(settings.home.resolve())
    return env


def _one_ca_file(home: Path) -> Path:
    """A CA file holding one certificate, for Prefect clients of a plain-http API.

    Every Prefect API client builds a TLS context from the CA bundle, even for http URLs:
    parsing the whole bundle costs ~35 ms of CPU, three times per flow run. Over plain http
    no certificate is ever checked, so a one-certificate file is enough; https API URLs keep
    the full bundle.
    """
    path = home / "prefect" / "http-api-ca.pem"
    if not path.exists():
        bundle = Path(certifi.where()).read_text()
        end = "-----END CERTIFICATE-----"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(bundle[bundle.index("-----BEGIN") : bundle.index(end) + len(end)] + "\n")
    return path


# Task runs reach the server as events (Pending, Running, Completed: three per task run): the
# event persister stores each event, the task-run recorder turns them into task runs and
# states. With Prefect's defaults the recorder writes one event per transaction: one flow run
# of no-op tasks on 2 cores ran 114-137 task runs/s while the server recorded 20-27/s, at
# 36-44 ms of server CPU each; batched, it records 67-116/s at 9-10 ms (python -m
# bench.batched; the machine was shared, hence the ranges). An operator's own value wins.
SERVER_TUNING = {
    # up to 200 events per database transaction instead of 1: 50, 200 and 500 recorded alike
    # (98-107/s in one run), 200 with the least server CPU
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "200",
    # the same batch read from the message broker (Redis; the in-memory broker ignores it)
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE": "200",
    # a part batch waits at most 1 s (Prefect: 5 s); whole seconds only, as Prefect truncates
    # it to an int and 0 would make the recorder spin
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL": "1",
    # up to 200 events per insert instead of 20
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE": "200",
    # as for the recorder: Redis broker only
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_READ_BATCH_SIZE": "200",
    # events are stored within 1 s of arriving (Prefect: 5 s): the recovery service judges
    # heartbeats only as far as the event store is current, so this also shortens its lag
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL": "1",
    # events are ~70% of the ~20 KB each task run adds to the database: a task run's routine
    # events (Pending, Running, Completed) are kept 1 day, its task run and states stay with
    # its job; failures, retries and flow-run events keep the 7-day event retention, and
    # heartbeats Prefect's own 7 days (seconds)
    "PREFECT_SERVER_SERVICES_DB_VACUUM_EVENT_RETENTION_OVERRIDES": json.dumps(
        {
            "prefect.flow-run.heartbeat": 7 * 86400,
            "prefect.task-run.Pending": 86400,
            "prefect.task-run.Running": 86400,
            "prefect.task-run.Completed": 86400,
        }
    ),
}


def prefect_env(settings: Settings) -> dict[str, str]:
    """Environment for Prefect processes (server, CLI, worker and the flow runs it starts)."""
    home = settings.home.resolve()
    env = {
        **os.environ,
        **settings_env(settings),
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_API_URL": settings.api_url,
        "PREFECT_SERVER_API_HOST": settings.server_host,
        "PREFECT_SERVER_API_PORT": str(settings.server_port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_CLI_PROMPT": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "2",
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
        # job runs are pruned by the retention job (jobs/maintenance/retention.py); the server
        # vacuums old events, and the logs and artifacts those deletions leave behind
        "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED": "events,orphans",
        "PREFECT_SERVER_SERVICES_LATE_RUNS_AFTER_SECONDS": str(settings.late_after_seconds),
    }
    # Every Prefect client (two per flow run) would ask the server for its version and a CSRF
    # token on start: the version is ours (one pinned Prefect), CSRF is off unless enabled.
    env.setdefault("PREFECT_CLIENT_SERVER_VERSION_CHECK_ENABLED", "false")
    if env.get("PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED", "").lower() not in {"1", "true"}:
        env.setdefault("PREFECT_CLIENT_CSRF_SUPPORT_ENABLED", "false")
    for name, value in SERVER_TUNING.items():
        env.setdefault(name, value)
    if settings.api_url.startswith("http://"):
        env["PREFECT_API_SSL_CERT_FILE"] = str(_one_ca_file(home))
    if settings.prefect_database_url:
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = settings.prefect_database_url
    if settings.server_auth is not None:  # the server asks for it, its clients send it
        auth = settings.server_auth.get_secret_value()
        env["PREFECT_SERVER_API_AUTH_STRING"] = env["PREFECT_API_AUTH_STRING"] = auth
    return env


def spawn(
    args: list[str], settings: Settings, log_name: str, **extra: str
) -> subprocess.Popen[bytes]:
    logs = settings.home.resolve() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    out = (logs / f"{log_name}.log").open("ab")
    return subprocess.Popen(
        args,
        cwd=PROJECT_DIR,
        env={**prefect_env(settings), **extra},
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def prefect_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "prefect", *args]


def start_server(settings: Settings, **env: str) -> subprocess.Popen[bytes]:
    """The Prefect server (API, UI and services) on the configured address (``env``: extra
    environment, over prefect_env's).

    Started through :mod:`jobs.prefect_server`: Prefect's server with the requests and tasks
    that read before they write taking SQLite's write lock up front, and global concurrency
    limits whose name is taken refused before their insert.
    """
    args = [sys.executable, "-m", "jobs.prefect_server", "server", "start"]
    args += ["--host", settings.server_host]
    args += ["--port", str(settings.server_port)]
    return spawn(args, settings, "server", **env)


def port_in_use(host: str, port: int) -> bool:
    """Whether something listens on ``host:port``."""
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) == 0


def wait_for_server(
    settings: Settings, process: subprocess.Popen[bytes], timeout: float = 180
) -> None:
    """Block until the server answers its health check; raise if it exits or times out."""
    wait_for_health(settings.api_url, process, "the Prefect server", timeout)


def wait_for_health(
    url: str, process: subprocess.Popen[bytes], name: str, timeout: float = 180
) -> None:
    """Block until ``url``/health answers 200; RuntimeError if ``process`` exits first,
    TimeoutError after ``timeout`` seconds. ``name`` says what it is in those errors."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}; see its log")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{name} did not answer at {url} in {timeout} s")


def deploy(
    settings: Settings, prefect_file: str = "prefect.yaml", names: list[str] | None = None
) -> None:
    """Create or update the deployments in ``prefect_file`` (all, or ``names``), no prompts."""
    which = [arg for name in names for arg in ("--name", name)] if names else ["--all"]
    subprocess.run(
        prefect_cli("--no-prompt", "deploy", *which, "--prefect-file", prefect_file),
        cwd=PROJECT_DIR,
        env=prefect_env(settings),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def start_worker(
    settings: Settings, *, limit: int | None = None, name: str = "worker", **env: str
) -> subprocess.Popen[bytes]:
    """A stock Prefect process worker on the work pool (``env``: extra environment)."""
    args = prefect_cli("worker", "start", "--pool", settings.work_pool, "--name", name)
    args += ["--limit", str(limit or settings.worker_limit)]
    return spawn(args, settings, name, **env)


def start_warm_worker(
    settings: Settings, *, limit: int | None = None, name: str = "warm-worker"
) -> subprocess.Popen[bytes]:
    """Our warm worker on the work pool (see jobs.worker)."""
    args = [sys.executable, "-m", "jobs", "worker", "--name", name]
    return spawn([*args, "--limit", str(limit or settings.worker_limit)], settings, name)


def start_recovery(settings: Settings) -> subprocess.Popen[bytes]:
    """The recovery service: crashes runs whose worker is gone, re-runs crashed jobs."""
    return spawn([sys.executable, "-m", "jobs", "recovery"], settings, "recovery")


def start_relay(settings: Settings) -> subprocess.Popen[bytes]:
    """The relay: hands committed jobs from the outbox to Prefect, batched jobs in batches."""
    return spawn([sys.executable, "-m", "jobs", "relay"], settings, "relay")


def start_api(settings: Settings) -> subprocess.Popen[bytes]:
    """The HTTP API (:mod:`jobs.http`) on ``JOBS_API_HOST:JOBS_API_PORT``."""
    return spawn([sys.executable, "-m", "jobs", "api"], settings, "api")


def api_url(settings: Settings) -> str:
    """Where the HTTP API answers (its docs page: ``/docs``)."""
    host = f"[{settings.api_host}]" if ":" in settings.api_host else settings.api_host
    return f"http://{host}:{settings.api_port}"


def start_dev_receiver(settings: Settings) -> subprocess.Popen[bytes]:
    """The development HTTP receiver, keeping requests under JOBS_HOME/webhooks."""
    return spawn([sys.executable, "-m", "jobs", "webhooks"], settings, "webhooks")


def start_dev_smtp(settings: Settings) -> subprocess.Popen[bytes]:
    """The development SMTP server, keeping mail in the Maildir under JOBS_HOME."""
    return spawn([sys.executable, "-m", "jobs", "smtp"], settings, "smtp")


def stop(processes: list[subprocess.Popen[bytes]], grace: float = 20) -> None:
    """SIGTERM each process group, wait up to ``grace`` seconds, then SIGKILL what is left."""
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, 15)
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
