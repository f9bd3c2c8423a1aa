"""Webhook delivery throughput: signed deliveries per second to a local HTTP server, one after
another in one process, each through the whole delivery path (endpoint row, signature, SSRF
resolution check, pinned connection, response read, attempt row, ledger row).

Run: ``.venv/bin/python -m bench.outbound [deliveries] [--rate-limit]``; prints one JSON line.
Without ``--rate-limit`` the per-host Prefect rate limit is skipped (no Prefect server needed);
with it, a Prefect server is started in the temporary home and every delivery takes a slot of
a limit set too high to bind, so the difference is the cost of the rate-limit round trip.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


HOME = Path(tempfile.mkdtemp(prefix="bench-outbound-"))
PORT, SERVER_PORT = _free_port(), _free_port()
for _name in [n for n in os.environ if n.startswith(("JOBS_", "PREFECT_"))]:
    del os.environ[_name]
os.environ.update(
    {
        "JOBS_HOME": str(HOME),
        "JOBS_SERVER_PORT": str(SERVER_PORT),
        "JOBS_HTTP_ALLOW_HOSTS": f'["127.0.0.1:{PORT}"]',
        "JOBS_HTTP_RATE_LIMIT_DEFAULT": "100000",
        "PREFECT_HOME": str(HOME / "prefect"),
        "PREFECT_API_URL": f"http://127.0.0.1:{SERVER_PORT}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
)

from jobs import services  # noqa: E402
from jobs.db.engine import session  # noqa: E402
from jobs.db.migrate import migrate  # noqa: E402
from jobs.db.models import WebhookEndpoint  # noqa: E402
from jobs.outbound import limits, signing, webhook  # noqa: E402
from jobs.outbound.params import DeliverWebhook  # noqa: E402
from jobs.settings import get_settings  # noqa: E402

SECRET = "whsec-bench"


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


def _no_throttle(_host: str) -> None:
    return None


def deliveries_per_second(count: int, endpoint_id: int, rate_limited: bool) -> float:
    throttle = limits.throttle if rate_limited else _no_throttle
    payload = {"order": 42, "items": [{"sku": f"sku-{i}", "qty": 1} for i in range(5)]}
    started = time.perf_counter()
    for i in range(count):
        params = DeliverWebhook(
            event="order.paid", payload=payload, endpoint_id=endpoint_id, delivery_id=f"d-{i}"
        )
        webhook.deliver(params, f"bench-{i}", throttle)
    return count / (time.perf_counter() - started)


def sign_verify_per_second(count: int = 20_000) -> float:
    body = b"x" * 1024
    started = time.perf_counter()
    for _ in range(count):
        headers = signing.headers(SECRET, body)
        assert signing.verify(
            SECRET, headers[signing.TIMESTAMP_HEADER], body, headers[signing.SIGNATURE_HEADER]
        )
    return count / (time.perf_counter() - started)


def main(count: int = 300, rate_limited: bool = False) -> dict[str, Any]:
    migrate()
    with session() as db, db.begin():
        endpoint = WebhookEndpoint(url=f"http://127.0.0.1:{PORT}/hook", secret=SECRET)
        db.add(endpoint)
    server = ThreadingHTTPServer(("127.0.0.1", PORT), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    prefect = services.start_server(get_settings()) if rate_limited else None
    try:
        if prefect is not None:
            services.wait_for_server(get_settings(), prefect)
        rate = deliveries_per_second(count, endpoint.id, rate_limited)
    finally:
        server.shutdown()
        if prefect is not None:
            services.stop([prefect])
        shutil.rmtree(HOME, ignore_errors=True)
    return {
        "bench": "outbound-webhooks",
        "deliveries": count,
        "rate_limit": rate_limited,
        "deliveries_per_s": round(rate, 1),
        "ms_per_delivery": round(1000 / rate, 2),
        "sign_and_verify_per_s_1kib": round(sign_verify_per_second()),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("deliveries", nargs="?", type=int, default=300)
    parser.add_argument("--rate-limit", action="store_true", help="take a Prefect slot each")
    args = parser.parse_args()
    sys.stdout.write(json.dumps(main(args.deliveries, args.rate_limit)) + "\n")
