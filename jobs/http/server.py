"""Running the HTTP API: uvicorn on the configured address, until SIGTERM or SIGINT."""

from __future__ import annotations

import uvicorn

from jobs.http.app import create_app
from jobs.settings import Settings

GRACE_SECONDS = 5
"""On stop, how long requests under way (a long poll) may take before they are cut."""


def serve(settings: Settings) -> None:
    """Serve the API on ``settings.api_host:api_port``; returns once stopped by a signal."""
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        timeout_graceful_shutdown=GRACE_SECONDS,
        server_header=False,
        log_level="info",
    )
