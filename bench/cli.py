"""Start-up time of the ``jobs`` command (``python -m bench.cli``), side by side in one run.

``jobs --help`` against what the command line used to load before any command (the client,
hence Prefect: ``import jobs.client``) and against ``import jobs`` alone, each run ``--runs``
times, interleaved, so that a busy machine slows all three alike. Prints a table, then one
JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.measure import percentile

ROOT = Path(__file__).resolve().parent.parent
JOBS = Path(sys.executable).parent / "jobs"
COMMANDS = {
    "jobs --help": [str(JOBS), "--help"],
    "import jobs": [sys.executable, "-c", "import jobs"],
    "import jobs.client (Prefect)": [sys.executable, "-c", "import jobs.client"],
}


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cli", description=__doc__)
    parser.add_argument("--runs", type=int, default=10, help="runs of each command")
    args = parser.parse_args(argv)
    for command in COMMANDS.values():  # warm the file cache and byte code once
        timed(command)
    seconds: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):
        for name, command in COMMANDS.items():
            seconds[name].append(timed(command))
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    help_s, prefect_s = medians["jobs --help"], medians["import jobs.client (Prefect)"]
    print(f"{'command':<30} {'median s':>9} {'p90 s':>7}")
    for name, values in seconds.items():
        print(f"{name:<30} {medians[name]:>9.3f} {percentile(values, 90):>7.3f}")
    print(f"jobs --help takes {help_s / prefect_s:.2f} of the time of loading the client alone")
    result = {
        "bench": "cli",
        "runs": args.runs,
        "median_seconds": {name: round(value, 4) for name, value in medians.items()},
        "help_over_client_import": round(help_s / prefect_s, 3),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
