"""Benchmarks: `make bench` (python -m bench) and one module per measured area.

Runs the queue benchmark (bench.queue), then the batched lane's (bench.batched), then the
HTTP API's against the Python client (bench.http), each on a server of its own. ``--only
queue|batched|http`` runs one; ``--database-url`` is passed to all (bench/postgres.sh gives
it); other options go to the one run alone.
"""

import argparse

from bench import batched, http, queue

parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
parser.add_argument("--only", choices=("queue", "batched", "http"))
parser.add_argument("--database-url", help="Prefect server database (default: SQLite)")
args, rest = parser.parse_known_args()
if rest and args.only is None:
    parser.error(f"options {rest} need --only queue, batched or http")
shared = ["--database-url", args.database_url] if args.database_url else []
if args.only in (None, "queue"):
    queue.main([*shared, *rest])
if args.only in (None, "batched"):
    batched.main([*shared, *rest])
if args.only in (None, "http"):
    http.main([*shared, *rest])
