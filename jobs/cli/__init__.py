"""The command line: ``jobs`` (the console script) or ``python -m jobs``.

Commands on jobs (:mod:`jobs.cli.queue`), for operators (:mod:`jobs.cli.admin`) and that run
the system (:mod:`jobs.cli.system`), in one Typer application (:mod:`jobs.cli.app`).
"""

from jobs.cli.app import app, main, run
from jobs.cli.system import setup

__all__ = ["app", "main", "run", "setup"]
