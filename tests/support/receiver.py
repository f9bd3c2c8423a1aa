"""A real HTTP server on 127.0.0.1 for the outgoing-HTTP tests: it records every request and
answers each path with scripted replies (then 200 "ok"). One per process, started on first use."""

from __future__ import annotations

import sys
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

from jobs.settings import Settings


@dataclass(frozen=True)
class Answer:
    """One scripted reply; ``length=False`` sends no Content-Length and closes the stream."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    length: bool = True


@dataclass(frozen=True)
class Received:
    """One request as the server saw it (header names in lower case)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _handle(self) -> None:
        size = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(size) if size else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        received = Received(self.command, self.path, headers, body)
        self._reply(self.server.receiver.take(received))

    def _reply(self, answer: Answer) -> None:
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if answer.length:
            self.send_header("Content-Length", str(len(answer.body)))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    receiver: Receiver

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # clients that hang up early
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class Receiver:
    """The test HTTP server: script answers per path, read what arrived."""

    _shared: ClassVar[dict[int, Receiver]] = {}

    def __init__(self, port: int) -> None:
        self.port = port
        self.requests: list[Received] = []
        self.scripts: dict[str, deque[Answer]] = {}
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.receiver = self
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @classmethod
    def shared(cls, port: int) -> Receiver:
        """The process's receiver on ``port``, started on first use."""
        if port not in cls._shared:
            cls._shared[port] = cls(port)
        return cls._shared[port]

    @classmethod
    def allowed(cls, settings: Settings) -> Receiver:
        """The shared receiver on the port of JOBS_HTTP_ALLOW_HOSTS's "127.0.0.1:<port>" entry
        (tests/conftest.py sets it, with the port in its HTTP_PORT)."""
        [port] = [e.split(":")[1] for e in settings.http_allow_hosts if e.startswith("127.0.0.1:")]
        return cls.shared(int(port))

    def path(self, *answers: Answer) -> str:
        """A new unique path answered with ``answers`` in turn, then 200 "ok"."""
        name = f"/hook/{uuid.uuid4().hex[:12]}"
        with self._lock:
            self.scripts[name] = deque(answers)
        return name

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def take(self, received: Received) -> Answer:
        with self._lock:
            self.requests.append(received)
            script = self.scripts.get(received.path.split("?")[0])
            return script.popleft() if script else Answer()

    def received(self, path: str) -> list[Received]:
        """Requests that arrived for ``path``, first first."""
        with self._lock:
            return [r for r in self.requests if r.path.split("?")[0] == path]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
