"""The HTTP API's cost per request against the Python client's, side by side in one run.

``python -m bench.http`` (and ``make bench``, last) brings up a Prefect server (SQLite, or
``--database-url``) with the work pool and the ``ping`` deployment in a temporary home, and
the HTTP API (``jobs.http.serve``, uvicorn, in a process of its own, as ``make up`` runs it);
no worker, so nothing runs and every job stays where it was put. Then, alternating blocks of
each so that both see the same server and machine:

- ``batch``: submitting one ``ping`` job (batched lane: a row in the outbox) with
  ``jobs.Client.submit`` against ``POST /jobs/ping`` (httpx, one kept-alive connection);
- ``flow``: the same with ``lane="flow"`` (a flow run created on the Prefect server);
- ``status``: ``jobs.Client.status`` against ``GET /jobs/{id}`` for the flow-lane jobs.

Each figure is the median (and p90) of one call's wall time, in ms; the overhead is the HTTP
median minus the client's, the ratio HTTP / client. The API process's CPU time per request is
read from /proc. It prints a table and one JSON line with ``"bench": "http"``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from jobs import apikeys, services
from jobs.settings import Settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


Result = dict[str, Any]
ROOT = Path(__file__).resolve().parent.parent
CHILD = "BENCH_HTTP_MEASURING"


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.http", description=__doc__)
    parser.add_argument("--database-url", help="Prefect server database (default: SQLite)")
    parser.add_argument("--batch", type=int, default=400, help="batched submits of each")
    parser.add_argument("--flow", type=int, default=120, help="flow-lane submits of each")
    parser.add_argument("--rounds", type=int, default=4, help="alternating blocks of each")
    return parser.parse_args(argv)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _timed(call: Callable[[int], object], start: int, count: int) -> list[float]:
    took = []
    for index in range(start, start + count):
        began = time.perf_counter()
        call(index)
        took.append(time.perf_counter() - began)
    return took


def _side_by_side(
    python: Callable[[int], object],
    http: Callable[[int], object],
    count: int,
    rounds: int,
    api_pid: int,
) -> Result:
    """``count`` calls of each, in ``rounds`` alternating blocks, after a few to warm up."""
    _timed(python, 0, 5)
    _timed(http, 0, 5)
    block = max(1, count // rounds)
    by_python: list[float] = []
    by_http: list[float] = []
    api_cpu = 0.0
    for done in range(0, block * rounds, block):
        by_python += _timed(python, 10 + done, block)
        cpu = _cpu_seconds(api_pid)
        by_http += _timed(http, 10 + done, block)
        api_cpu += _cpu_seconds(api_pid) - cpu
    return {
        "python_ms": _ms(statistics.median(by_python)),
        "python_p90_ms": _ms(statistics.quantiles(by_python, n=10)[-1]),
        "http_ms": _ms(statistics.median(by_http)),
        "http_p90_ms": _ms(statistics.quantiles(by_http, n=10)[-1]),
        "overhead_ms": _ms(statistics.median(by_http) - statistics.median(by_python)),
        "ratio": round(statistics.median(by_http) / statistics.median(by_python), 2),
        "api_cpu_ms": _ms(api_cpu / len(by_http)),
        "calls": len(by_http),
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _environment(args: argparse.Namespace, home: Path) -> dict[str, str]:
    """The environment of a home of its own, with the Prefect client settings ``make up`` gives
    its processes: the measuring process and the API's both get it, before Prefect is loaded."""
    caller = dict(os.environ)
    os.environ.clear()  # none of the caller's JOBS_* and PREFECT_* settings
    os.environ.update({k: v for k, v in caller.items() if not k.startswith(("JOBS_", "PREFECT_"))})
    try:
        settings = Settings(
            home=home,
            server_port=_free_port(),
            api_port=_free_port(),
            work_pool="bench-http",
            prefect_database_url=args.database_url,
            api_rate_limit="1000000/second",  # measured, not limited
        )
        return {**services.prefect_env(settings), CHILD: "1"}
    finally:
        os.environ.clear()
        os.environ.update(caller)


def run(args: argparse.Namespace) -> Result:
    settings = Settings()
    from jobs.cli import setup
    from jobs.client import Client
    from jobs.db.migrate import migrate

    processes: list[subprocess.Popen[bytes]] = []
    try:
        server = services.start_server(settings)
        processes.append(server)
        services.wait_for_server(settings, server)
        setup(settings)
        services.deploy(settings, names=["ping/ping"])
        migrate(settings.app_database_url)
        _, key = apikeys.create("bench", "admin", settings.app_database_url)
        api = services.start_api(settings)
        processes.append(api)
        base = services.api_url(settings)
        services.wait_for_health(base, api, "the HTTP API", timeout=60)

        client = Client(settings)
        headers = {"Authorization": f"Bearer {key}"}
        flow_ids: list[str] = []
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:

            def post(body: dict[str, Any]) -> str:
                answer = http.post("/jobs/ping", json=body)
                answer.raise_for_status()
                return str(answer.json()["id"])

            results: Result = {
                "batch": _side_by_side(
                    lambda i: client.submit("ping", {"note": f"py-{i}"}),
                    lambda i: post({"params": {"note": f"http-{i}"}}),
                    args.batch,
                    args.rounds,
                    api.pid,
                ),
                "flow": _side_by_side(
                    lambda i: flow_ids.append(
                        str(client.submit("ping", {"note": f"py-{i}"}, lane="flow").id)
                    ),
                    lambda i: flow_ids.append(post({"params": {"note": f"h-{i}"}, "lane": "flow"})),
                    args.flow,
                    args.rounds,
                    api.pid,
                ),
            }
            results["status"] = _side_by_side(
                lambda i: client.status(flow_ids[i % len(flow_ids)]),
                lambda i: http.get(f"/jobs/{flow_ids[i % len(flow_ids)]}").raise_for_status(),
                args.flow,
                args.rounds,
                api.pid,
            )
    finally:
        services.stop(list(reversed(processes)))
    results["backend"] = "postgres" if args.database_url else "sqlite"
    return results


def report(results: Result) -> None:
    print(f"\nHTTP API against the Python client, per call ({results['backend']}, no worker)")
    print(
        f"{'':28}{'client p50':>11}{'p90':>8}{'HTTP p50':>10}{'p90':>8}"
        f"{'overhead':>10}{'ratio':>7}{'API CPU':>9}"
    )
    names = {
        "batch": "submit, batched lane",
        "flow": "submit, flow lane",
        "status": "status of a flow-lane job",
    }
    for name, label in names.items():
        r = results[name]
        print(
            f"{label:28}{r['python_ms']:>9.2f}ms{r['python_p90_ms']:>6.1f}ms{r['http_ms']:>8.2f}ms"
            f"{r['http_p90_ms']:>6.1f}ms{r['overhead_ms']:>8.2f}ms{r['ratio']:>7.2f}"
            f"{r['api_cpu_ms']:>7.2f}ms"
        )
    line: Result = {"bench": "http", "backend": results["backend"]}
    for name in names:
        for field, value in results[name].items():
            line[f"{name}_{field}"] = value
    print(json.dumps(line))


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    if os.environ.get(CHILD):
        report(run(args))
        return
    home = Path(tempfile.mkdtemp(prefix="bench-http-"))
    try:  # measured in a process whose Prefect settings are read from this environment
        command = [
            sys.executable,
            "-m",
            "bench.http",
            *(argv if argv is not None else sys.argv[1:]),
        ]
        subprocess.run(command, env=_environment(args, home), cwd=ROOT, check=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
