"""What a job's state history says about its automatic re-runs after crashes.

The recovery service (:mod:`jobs.worker.recovery`) re-runs a crashed job by scheduling it again
with a message starting with :data:`RERUN`; a retry through the API schedules it with
:data:`MANUAL_RETRY`. Both the service (how many re-runs are left) and the job's status (why it
was re-run) read them back from the run's states.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prefect.client.schemas.objects import State, StateType

RERUN = "Recovered after a crash"
MANUAL_RETRY = "Retried through the jobs API"
GAVE_UP = "TooManyCrashes"
"""The name of the Failed state of a job given up after crashing on every re-run."""


def _is_rerun(state: State[Any]) -> bool:
    return state.type is StateType.SCHEDULED and (state.message or "").startswith(RERUN)


def recoveries(states: Sequence[State[Any]], since_manual_retry: bool = False) -> list[str]:
    """Why the job was re-run automatically: the message of the crash before each re-run.

    ``states`` in time order. With ``since_manual_retry``, only the re-runs after the last retry
    through the API count (a retry starts the job's re-run allowance afresh).
    """
    if since_manual_retry:
        manual = [i for i, state in enumerate(states) if state.message == MANUAL_RETRY]
        states = states[manual[-1] + 1 :] if manual else states
    reasons = []
    crash = "unknown"
    for state in states:
        if state.type is StateType.CRASHED:
            crash = state.message or "crashed"
        elif _is_rerun(state):
            reasons.append(crash)
    return reasons
