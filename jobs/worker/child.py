"""What the forkserver preloads, and the entry point of each forked flow-run process.

Importing this module imports Prefect's engine and every flow module; it must start no threads,
because the forkserver that imports it forks every flow run from itself.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import warnings

import prefect.deployments.steps.core
import prefect.deployments.steps.pull
import prefect.engine
import prefect.flow_engine
import prefect.task_engine

import flows.mail  # noqa: F401  - every job type's flow module, imported once

PRELOADED = (prefect.deployments.steps.core, prefect.deployments.steps.pull, prefect.flow_engine)


def execute(flow_run_id: str) -> None:
    """Run one flow run through Prefect's engine, in this (freshly forked) process."""
    os.setsid()  # own process group: a hard kill takes any children of the job with it
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the forkserver ignores it; runs must not
    os.environ["PREFECT__FLOW_RUN_ID"] = flow_run_id
    sys.argv = ["prefect.engine", flow_run_id]
    # prefect.engine is preloaded on purpose; running it as __main__ again is what we want.
    warnings.filterwarnings("ignore", "'prefect.engine' found in sys.modules", RuntimeWarning)
    runpy.run_module("prefect.engine", run_name="__main__", alter_sys=True)
