"""``make screenshots`` (``python -m screenshots``): the README's pictures of the Prefect UI.

Starts a Prefect server (with the work pool and its queues), the media job types' deployments
and a warm worker in a temporary home on a free port, runs the example jobs
(:mod:`screenshots.examples`: one completes with progress, one fails), then opens the pages
that show them in headless Chromium (:mod:`screenshots.dashboard`) and saves each as a PNG in
``docs/screenshots/`` (``--out``), replacing the previous ones. Everything it started is
stopped and its home removed at the end.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Page
from prefect.context import refresh_global_settings_context

from jobs import services
from jobs.cli import setup
from jobs.client import Client
from jobs.db.migrate import migrate
from jobs.registry import JOB_TYPES
from jobs.settings import Settings, get_settings
from screenshots import examples
from screenshots.dashboard import VIEWPORT, Dashboard, browser_page

log = logging.getLogger("screenshots")
OUT = services.PROJECT_DIR / "docs" / "screenshots"
JOB_TYPES_SHOWN = ("thumbnails", "image")  # the examples' job types: only they are deployed
PRIVATE: dict[str, Any] = {
    "server_host": "127.0.0.1",
    "work_pool": "jobs",
    "prefect_api_url": None,
    "prefect_database_url": None,
    "database_url": None,
    "server_auth": None,
    "storage_root": None,
}
"""Settings that would point elsewhere if set in the environment: everything in the home."""


def free_port() -> int:
    """A free TCP port on loopback, for the server of this run."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m screenshots", description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder of the PNGs ({OUT})")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    started = time.monotonic()
    with stack() as settings:
        log.info("server and worker up at %s; running the example jobs", settings.ui_url)
        finished = examples.run(Client(settings))
        for status in (finished.completed, finished.failed):
            log.info("%s job %s: %s", status.job_type, status.id, status.state.value)
        saved = shoot(settings, finished, args.out)
    for path in saved:
        print(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)
    log.info("done in %.0f s", time.monotonic() - started)


@contextmanager
def stack() -> Iterator[Settings]:
    """A Prefect server with the work pool and queues, the example job types' deployments and
    a warm worker, in a temporary home on a free port, this process a client of it; all
    stopped and the home removed on exit."""
    home = Path(tempfile.mkdtemp(prefix="jobs-screenshots-"))
    settings = Settings(home=home, server_port=free_port(), **PRIVATE)
    os.environ.update(services.prefect_env(settings))
    get_settings.cache_clear()
    refresh_global_settings_context()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        migrate(settings.app_database_url)
        server = services.start_server(settings)
        processes.append(server)
        services.wait_for_server(settings, server)
        setup(settings)
        deployments = [JOB_TYPES[name].deployment_name for name in JOB_TYPES_SHOWN]
        services.deploy(settings, names=deployments)
        processes.append(services.start_warm_worker(settings, limit=2))
        yield settings
    finally:
        services.stop(list(reversed(processes)))
        shutil.rmtree(home, ignore_errors=True)


def shoot(settings: Settings, finished: examples.Examples, out: Path) -> list[Path]:
    """Open each page, wait until it shows what it should, save it as ``out/<name>.png``."""
    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    completed, failed = finished.completed.ui_url, finished.failed.ui_url
    with browser_page() as page:
        dashboard = Dashboard(page, settings.ui_url)

        def save(name: str, show: Callable[[], object]) -> None:
            show()
            path = out / f"{name}.png"
            whole_page(page, lambda: page.screenshot(path=path))
            saved.append(path)

        save("work-pool-queues", lambda: dashboard.work_queues(settings.work_pool))
        save("runs", lambda: dashboard.runs([completed, failed]))
        save("completed-run-logs", lambda: dashboard.run_logs(completed, containing="Wrote"))
        save("completed-run-artifacts", lambda: dashboard.run_artifacts(completed))
        save("progress-artifact", lambda: dashboard.open_artifact("progress"))
        save("failed-run", lambda: dashboard.run_details(failed))
    return saved


HIDDEN = """() => Math.max(0, ...[...document.querySelectorAll('*')]
    .filter(node => /(auto|scroll)/.test(getComputedStyle(node).overflowY))
    .map(node => node.scrollHeight - node.clientHeight))"""
"""How much of the page is scrolled out of sight: the UI scrolls inside a panel, not the
document, so Playwright's full-page screenshots would show only the window."""


def whole_page(page: Page, take: Callable[[], object], most: int = 3000) -> None:
    """Call ``take`` with the window tall enough to show the whole page (up to ``most``
    pixels), then give the window its size back."""
    size = page.viewport_size or VIEWPORT
    hidden = int(page.evaluate(HIDDEN))
    if hidden:
        height = min(most, size["height"] + hidden)
        page.set_viewport_size({"width": size["width"], "height": height})
        page.wait_for_load_state("networkidle")
    try:
        take()
    finally:
        page.set_viewport_size(size)
