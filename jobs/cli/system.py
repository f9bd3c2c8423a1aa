"""Commands that run the system: ``up``, ``cluster``, ``worker``, ``recovery``, ``relay``,
``smtp``, ``webhooks``, ``setup``, ``migrate``, ``deployments``.

Each loads what it runs when it runs (Prefect, the ORM, the flows), not when the command line
starts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from contextlib import suppress
from types import FrameType
from typing import Annotated

import typer

from jobs import services
from jobs.cli.shared import SYSTEM_PANEL
from jobs.cli.shared import settings as load_settings
from jobs.settings import DEV_HOST, Settings
from jobs.supervisor import Supervisor

commands = typer.Typer()


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _until_interrupted() -> None:
    """Sleep until Ctrl-C or SIGTERM (both arrive as KeyboardInterrupt)."""
    signal.signal(signal.SIGTERM, _interrupt)
    with suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)


def setup(settings: Settings) -> None:
    """Work pool, queues and limits on the running server."""
    from deployments.pool import apply
    from jobs.prefect_api import prefect_client

    async def run() -> None:
        async with prefect_client(settings.api_url, settings.server_auth) as client:
            await apply(client, settings)

    asyncio.run(run())


def up(settings: Settings) -> None:
    """Start everything, deploy, submit the samples; Ctrl-C stops it all."""
    for host, port, setting in [
        (settings.server_host, settings.server_port, "JOBS_SERVER_PORT"),
        (settings.api_host, settings.api_port, "JOBS_API_PORT"),
    ]:
        if services.port_in_use(host, port):
            raise SystemExit(
                f"{host}:{port} is already in use: is `make up` already running? Stop it, "
                f"or set {setting}."
            )
    from jobs.data.seed import seed
    from jobs.db.migrate import migrate

    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    migrate()
    seed()
    receiver = f"{DEV_HOST}:{settings.dev_webhook_port}"
    settings = settings.model_copy(  # outbound jobs may reach the development receiver only
        update={"http_allow_hosts": [*settings.http_allow_hosts, receiver]}
    )
    supervisor = Supervisor(lambda line: print(line, flush=True))
    try:
        supervisor.add("SMTP server", lambda: services.start_dev_smtp(settings))
        supervisor.add("HTTP receiver", lambda: services.start_dev_receiver(settings))
        _bring_up(settings, supervisor, started)
        _until_interrupted()
    except KeyboardInterrupt:
        pass
    finally:
        print(
            "Stopping the HTTP API, relay, worker, recovery, server, SMTP server and HTTP "
            "receiver ...",
            flush=True,
        )
        services.stop(list(reversed(supervisor.stop())))
        print("Stopped.", flush=True)


def _bring_up(settings: Settings, supervisor: Supervisor, started: float) -> None:
    from jobs import samples
    from jobs.client import Client

    server = supervisor.add("Prefect server", lambda: services.start_server(settings))
    services.wait_for_server(settings, server)
    setup(settings)
    services.deploy(settings)
    setup(settings)  # again: the alert automations run the deployed email job
    supervisor.add("worker", lambda: services.start_warm_worker(settings))
    supervisor.add("recovery service", lambda: services.start_recovery(settings))
    supervisor.add("relay", lambda: services.start_relay(settings))
    supervisor.add("HTTP API", lambda: services.start_api(settings))
    api = services.api_url(settings)
    print(f"Ready in {time.monotonic() - started:.0f} s. Prefect UI: {settings.ui_url}", flush=True)
    print(f"HTTP API: {api} (docs: {api}/docs; keys: jobs keys create NAME --scopes ...)")
    client = Client(settings)
    for name, job in samples.submit_all(client).items():
        status = client.wait(job, timeout=300)
        print(f"Sample {name} job {job.id}: {status.state.value} ({status.ui_url})", flush=True)
    print(f"Mail received by the development SMTP server: {settings.maildir.resolve()}/new/")
    print(
        f"Requests received by the development HTTP receiver: {settings.home.resolve()}/webhooks/"
    )
    print(f"Logs: {settings.home.resolve() / 'logs'}.  Press Ctrl-C to stop.", flush=True)


def cluster(settings: Settings) -> None:
    """Run the production topology on this machine (:mod:`jobs.cluster`); Ctrl-C stops it."""
    from jobs.cluster import Cluster

    signal.signal(signal.SIGTERM, _interrupt)
    topology = Cluster(settings, lambda line: print(line, flush=True))
    try:
        topology.start()
        env = topology.write_client_env()
        print(f"Prefect UI and API: {topology.settings.ui_url} (basic auth: see {env})")
        for host in topology.network.hosts:
            print(f"Worker host {host.name}: {host.address} (network namespace {host.namespace})")
        print(f"Settings for applications that submit jobs: `set -a; . {env}`")
        print(f"Mail: {topology.settings.maildir}/new/  Requests: {topology.home}/webhooks/")
        print(f"Logs: {topology.logs}.  Press Ctrl-C to stop.", flush=True)
        _until_interrupted()
    except KeyboardInterrupt:
        pass
    finally:
        print("Stopping the cluster ...", flush=True)
        topology.stop()
        print("Stopped.", flush=True)


def smtp(settings: Settings) -> None:
    """Run the development SMTP server until stopped."""
    from jobs.devsmtp import dev_server

    controller = dev_server(settings.maildir.resolve(), DEV_HOST, settings.dev_smtp_port)
    controller.start()
    logging.getLogger("jobs.devsmtp").info(
        "development SMTP server on %s:%s, mail kept in %s",
        DEV_HOST,
        settings.dev_smtp_port,
        settings.maildir.resolve(),
    )
    _until_interrupted()
    controller.stop()


def worker(settings: Settings, name: str = "warm-worker", limit: int | None = None) -> None:
    """Run the warm worker on the work pool until stopped."""
    from jobs.worker.runner import serve

    options = {
        "limit": limit or settings.worker_limit,
        "poll_seconds": settings.worker_poll_seconds,
        "drain_seconds": settings.worker_drain_seconds,
        "default_time_limit": settings.worker_time_limit_seconds,
        "name": name,
        "heartbeat_seconds": settings.worker_heartbeat_seconds,
        "zombie_after": settings.zombie_after_seconds,
    }
    asyncio.run(serve(settings.api_url, settings.work_pool, **options))


def deployments(settings: Settings) -> None:
    """Write prefect.yaml from the job-type catalogue (jobs/registry.py)."""
    from deployments.prefect_yaml import write

    print(f"wrote {write()}")


def recovery(settings: Settings) -> None:
    """Run the recovery service (zombie detection, re-runs of crashed jobs) until stopped."""
    from jobs.worker.recovery import serve

    asyncio.run(serve(settings))


def relay(settings: Settings) -> None:
    """Run the relay (outbox to Prefect: batches, enqueued jobs) until stopped."""
    from jobs.relay import serve

    asyncio.run(serve(settings))


def webhooks(settings: Settings) -> None:
    """Run the development HTTP receiver until stopped."""
    from jobs.devhooks import DevReceiver

    folder = settings.home.resolve() / "webhooks"
    server = DevReceiver(folder, DEV_HOST, settings.dev_webhook_port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    logging.getLogger("jobs.devhooks").info(
        "development HTTP receiver on %s:%s, requests kept in %s",
        DEV_HOST,
        settings.dev_webhook_port,
        folder,
    )
    _until_interrupted()
    server.shutdown()


def _prepared() -> Settings:
    """The settings, with logging to standard error and Prefect's own settings following the
    JOBS_ ones (API URL, home, ...), in this process and every process it starts (a worker's
    forked runs, the jobs they submit): one server."""
    from prefect.context import refresh_global_settings_context

    settings = load_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    os.environ.update(services.prefect_env(settings))
    refresh_global_settings_context()
    return settings


@commands.command("up", rich_help_panel=SYSTEM_PANEL)
def up_command() -> None:
    """Start everything, deploy, submit the samples (`make up`).

    Server, worker, relay, recovery, HTTP API, development SMTP and HTTP receivers, each
    restarted if it dies. Ctrl-C stops it all.
    """
    up(_prepared())


@commands.command("cluster", rich_help_panel=SYSTEM_PANEL)
def cluster_command() -> None:
    """The production topology on this machine (`make cluster`, as root)."""
    cluster(_prepared())


@commands.command("worker", rich_help_panel=SYSTEM_PANEL)
def worker_command(
    name: Annotated[str, typer.Option(help="The worker's name.")] = "warm-worker",
    limit: Annotated[
        int | None,
        typer.Option(
            min=1, help="Jobs at once; JOBS_WORKER_LIMIT when not given.", show_default=False
        ),
    ] = None,
) -> None:
    """Run the warm worker on the work pool until stopped."""
    worker(_prepared(), name=name, limit=limit)


@commands.command("recovery", rich_help_panel=SYSTEM_PANEL)
def recovery_command() -> None:
    """Run the recovery service (lost and crashed jobs) until stopped."""
    recovery(_prepared())


@commands.command("relay", rich_help_panel=SYSTEM_PANEL)
def relay_command() -> None:
    """Run the relay (outbox to Prefect, batches) until stopped."""
    relay(_prepared())


@commands.command("smtp", rich_help_panel=SYSTEM_PANEL)
def smtp_command() -> None:
    """Run the development SMTP server until stopped."""
    smtp(_prepared())


@commands.command("webhooks", rich_help_panel=SYSTEM_PANEL)
def webhooks_command() -> None:
    """Run the development HTTP receiver until stopped."""
    webhooks(_prepared())


@commands.command("api", rich_help_panel=SYSTEM_PANEL)
def api_command() -> None:
    """Run the HTTP API (JOBS_API_HOST:JOBS_API_PORT, docs at /docs) until stopped."""
    from jobs.http import serve

    serve(_prepared())


@commands.command("setup", rich_help_panel=SYSTEM_PANEL)
def setup_command() -> None:
    """Create or update the work pool, its queues and limits, and the alert automations."""
    setup(_prepared())


@commands.command("migrate", rich_help_panel=SYSTEM_PANEL)
def migrate_command() -> None:
    """Create or upgrade the application database's tables."""
    from jobs.db.migrate import migrate

    _prepared()
    migrate()


@commands.command("deployments", rich_help_panel=SYSTEM_PANEL)
def deployments_command() -> None:
    """Write prefect.yaml from the job-type catalogue."""
    deployments(_prepared())
