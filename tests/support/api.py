"""The HTTP API served for tests by real uvicorn: in a thread of the test process, or as its own
process through ``jobs.http.serve`` (stopped with SIGTERM, as an operator would)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from types import TracebackType

import httpx
import uvicorn

from jobs import apikeys, services
from jobs.http import create_app
from jobs.settings import Settings
from tests.support.polling import wait_until
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def _up(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


class ThreadedApi:
    """``create_app(settings)`` served by uvicorn in a thread, on a free port."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ThreadedApi:
        self.thread.start()
        wait_until(lambda: _up(self.url), 30, f"the API answers at {self.url}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


class ApiProcess:
    """``jobs.http.serve(settings)`` in a process of its own, with the settings' environment."""

    def __init__(self, settings: Settings, **overrides: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(settings.home) / "logs" / f"api-{self.port}.log"
        self.env = {
            **os.environ,
            **services.settings_env(settings),
            "JOBS_API_HOST": "127.0.0.1",
            "JOBS_API_PORT": str(self.port),
            **overrides,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ApiProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        code = "import jobs.http, jobs.settings; jobs.http.serve(jobs.settings.Settings())"
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", code], cwd=ROOT, env=self.env, stdout=out, stderr=out
            )
        wait_until(lambda: self._running() and _up(self.url), 60, self._what)
        return self

    def _running(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"the API exited ({self.process.returncode}): {self.tail()}")
        return True

    def _what(self) -> str:
        return f"the API answers at {self.url}; its log: {self.tail()}"

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else "(no log)"

    def stop(self) -> int:
        """SIGTERM, as an operator stops it; its exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            self.stop()


def key(scopes: str, url: str | None = None) -> dict[str, str]:
    """The Authorization header of a new key with ``scopes`` (comma-separated)."""
    _, made = apikeys.create(f"test-{scopes}-{uuid.uuid4().hex[:8]}", scopes, url)
    return {"Authorization": f"Bearer {made}"}


def routes(settings: Settings) -> list[tuple[str, str, str]]:
    """Every operation of the OpenAPI schema (and the unknown-type ones) with a concrete path
    and the scope it needs: submits need submit, reads read, the rest admin."""
    schema = create_app(settings).openapi()
    found = [
        ("post", "/jobs/no-such-type", "submit"),
        ("post", "/jobs/no-such-type/bulk", "submit"),
    ]
    for path, operations in schema["paths"].items():
        for method in operations:
            concrete = path.format(job_id=uuid.uuid4(), job_type="ping", name="retention")
            if path == "/health":
                continue
            submits = method == "post" and re.fullmatch(r"/jobs/[a-z_]+(/bulk)?", path)
            scope = "submit" if submits else "read" if method == "get" else "admin"
            found.append((method, concrete, scope))
    return found


OTHER_SCOPES = {"submit": "read", "read": "submit", "admin": "submit,read"}


def assert_keys_and_scopes_checked(base_url: str, settings: Settings) -> None:
    """Every operation answers 401 without a key or with a wrong one, 403 with a key that
    lacks its scope; ``/health`` needs none."""
    url = settings.app_database_url
    wrong = {scope: key(others, url) for scope, others in OTHER_SCOPES.items()}
    operations = routes(settings)
    assert len(operations) > 40  # two submit operations per job type, and the rest
    with httpx.Client(base_url=base_url, timeout=30) as http:
        for method, path, scope in operations:
            bare = http.request(method, path, json={})
            assert bare.status_code == 401, (method, path, bare.text)
            assert bare.headers["WWW-Authenticate"] == "Bearer"
            assert "Authorization: Bearer <key>" in bare.json()["detail"]

            bad = http.request(method, path, json={}, headers={"Authorization": "Bearer jobs_x"})
            assert bad.status_code == 401, (method, path, bad.text)
            assert bad.json()["detail"] == "the API key is not valid (unknown or revoked)"

            out = http.request(method, path, json={}, headers=wrong[scope])
            assert out.status_code == 403, (method, path, out.text)
            assert f"it needs the {scope} scope" in out.json()["detail"]
        assert http.get("/health").json() == {"status": "ok"}
