"""Benchmarks: `make bench` (python -m bench) and one module per measured area.

Runs the queue benchmark (bench.queue), then the batched lane's (bench.batched), each on a
server of its own. ``--only queue`` or ``--only batched`` runs one; ``--database-url`` is
passed to both (bench/postgres.sh gives it); other options go to the one run alone.
"""

import argparse

from bench import batched, queue

parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
parser.add_argument("--only", choices=("queue", "batched"))
parser.add_argument("--database-url", help="Prefect server database (default: SQLite)")
args, rest = parser.parse_known_args()
if rest and args.only is None:
    parser.error(f"options {rest} need --only queue or --only batched")
shared = ["--database-url", args.database_url] if args.database_url else []
if args.only in (None, "queue"):
    queue.main([*shared, *rest])
if args.only in (None, "batched"):
    batched.main([*shared, *rest])
