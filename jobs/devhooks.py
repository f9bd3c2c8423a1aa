"""The development HTTP receiver: keeps every request it gets as a JSON file on disk.

``make up`` starts it on loopback and lets the outbound jobs reach it (and nothing else local),
so the webhook and API-call samples have somewhere to go; a person can read what arrived.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MAX_BODY = 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    server: DevReceiver

    def _keep(self) -> None:
        size = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
        body = self.rfile.read(size).decode("utf-8", errors="replace")
        record = {
            "method": self.command,
            "path": self.path,
            "headers": dict(self.headers.items()),
            "body": body,
        }
        self.server.keep(record)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "15")
        self.end_headers()
        self.wfile.write(b'{"status":"ok"}')

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET = _keep

    def log_message(self, format: str, *args: object) -> None:
        return None


class DevReceiver(ThreadingHTTPServer):
    """Writes each request to ``<folder>/<time>-<pid>-<n>.json`` (receivers on several hosts
    may share one folder)."""

    def __init__(self, folder: Path, host: str, port: int) -> None:
        super().__init__((host, port), _Handler)
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._count = 0
        self._lock = threading.Lock()

    def keep(self, record: Mapping[str, object]) -> None:
        with self._lock:
            self._count += 1
            name = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{self._count}.json"
        (self.folder / name).write_text(json.dumps(record, indent=2))
