"""Benchmarks: `make bench` (python -m bench) and one module per measured area.

Runs the queue benchmark (bench.queue), then the batched lane's (bench.batched), then the
HTTP API's against the Python client (bench.http), each on a server of its own, and the
command line's start-up time (bench.cli). ``--only queue|batched|http|cli`` runs one;
``--database-url`` is passed to the first three (bench/postgres.sh gives it); other options go
to the one run alone.
"""

import argparse

from bench import batched, cli, http, queue

parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
parser.add_argument("--only", choices=("queue", "batched", "http", "cli"))
parser.add_argument("--database-url", help="Prefect server database (default: SQLite)")
args, rest = parser.parse_known_args()
if rest and args.only is None:
    parser.error(f"options {rest} need --only queue, batched, http or cli")
shared = ["--database-url", args.database_url] if args.database_url else []
if args.only in (None, "queue"):
    queue.main([*shared, *rest])
if args.only in (None, "batched"):
    batched.main([*shared, *rest])
if args.only in (None, "http"):
    http.main([*shared, *rest])
if args.only in (None, "cli"):
    cli.main(rest)
