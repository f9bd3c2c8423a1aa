"""Words for how a process ended, for crash messages and the supervisor's log lines."""

from __future__ import annotations

import signal


def describe_exit(code: int) -> str:
    """Words for a process exit code; negative codes are signals."""
    if code < 0:
        return f"killed by signal {signal.Signals(-code).name}"
    return f"exited with code {code}"
