"""Command line: ``python -m jobs up | cluster | worker | recovery | relay | smtp | webhooks |
setup | migrate | deployments``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from types import FrameType

from prefect.context import refresh_global_settings_context

from jobs import samples, services
from jobs.client import Client
from jobs.data.seed import seed
from jobs.db.migrate import migrate
from jobs.devhooks import DevReceiver
from jobs.devsmtp import dev_server
from jobs.prefect_api import prefect_client
from jobs.settings import DEV_HOST, Settings, get_settings
from jobs.supervisor import Supervisor


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

    async def run() -> None:
        async with prefect_client(settings.api_url, settings.server_auth) as client:
            await apply(client, settings)

    asyncio.run(run())


def up(settings: Settings) -> None:
    """Start everything, deploy, submit the samples; Ctrl-C stops it all."""
    if services.port_in_use(settings.server_host, settings.server_port):
        raise SystemExit(
            f"{settings.server_host}:{settings.server_port} is already in use: is `make up` "
            "already running? Stop it, or set JOBS_SERVER_PORT."
        )
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
            "Stopping relay, worker, recovery, server, SMTP server and HTTP receiver ...",
            flush=True,
        )
        services.stop(list(reversed(supervisor.stop())))
        print("Stopped.", flush=True)


def _bring_up(settings: Settings, supervisor: Supervisor, started: float) -> None:
    server = supervisor.add("Prefect server", lambda: services.start_server(settings))
    services.wait_for_server(settings, server)
    setup(settings)
    services.deploy(settings)
    setup(settings)  # again: the alert automations run the deployed email job
    supervisor.add("worker", lambda: services.start_warm_worker(settings))
    supervisor.add("recovery service", lambda: services.start_recovery(settings))
    supervisor.add("relay", lambda: services.start_relay(settings))
    print(f"Ready in {time.monotonic() - started:.0f} s. Prefect UI: {settings.ui_url}", flush=True)
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


COMMANDS: dict[str, Callable[..., None]] = {
    "up": up,
    "cluster": cluster,
    "smtp": smtp,
    "webhooks": webhooks,
    "setup": setup,
    "migrate": lambda settings, **_: migrate(),
    "worker": worker,
    "recovery": recovery,
    "relay": relay,
    "deployments": deployments,
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m jobs", description=__doc__)
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("--name", help="worker: its name")
    parser.add_argument("--limit", type=int, help="worker: how many jobs at once")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    options = {key: value for key in ("name", "limit") if (value := getattr(args, key))}
    if options and args.command != "worker":
        parser.error("--name and --limit go with the worker command")
    settings = get_settings()
    # Prefect's own settings (API URL, home, ...) follow the JOBS_ settings, in this process and
    # in every process it starts (a worker's forked runs, the jobs they submit): one server.
    os.environ.update(services.prefect_env(settings))
    refresh_global_settings_context()
    COMMANDS[args.command](settings, **options)
