"""Imported by the forkserver only: preload everything, and survive a group-wide SIGTERM.

A stop signal sent to the worker's whole process group must not kill the forkserver: the
worker learns how its runs ended through it, and it drains them before stopping. The
forkserver exits by itself when the worker does.
"""

from __future__ import annotations

import signal

import jobs.worker.child  # noqa: F401  - Prefect's engine and every flow module

signal.signal(signal.SIGTERM, signal.SIG_IGN)
