"""The development HTTP receiver keeps each request as a JSON file."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import httpx

from jobs.devhooks import DevReceiver


def test_receiver_keeps_each_request(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = DevReceiver(tmp_path / "hooks", "127.0.0.1", port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        reply = httpx.post(f"http://127.0.0.1:{port}/hooks/x", json={"a": 1}, headers={"X-T": "1"})
    finally:
        server.shutdown()
        server.server_close()

    assert reply.status_code == 200
    [kept] = [json.loads(p.read_text()) for p in (tmp_path / "hooks").glob("*.json")]
    assert kept["method"] == "POST" and kept["path"] == "/hooks/x"
    assert json.loads(kept["body"]) == {"a": 1}
    assert kept["headers"]["X-T"] == "1"
