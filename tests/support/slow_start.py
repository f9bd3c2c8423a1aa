"""A flow whose first import blocks, so its first run stays claimed (Pending) and never starts.

The worker imports this module in the run's process before Prefect's engine moves the run to
Running. The first import there creates ``<JOBS_HOME>/slow-start`` and blocks; later imports,
once that file exists, do not; nor do imports outside a run's process (the worker reads the
flow's time limit). A test removes the file to arm it again.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from prefect import flow

_MARK = Path(os.environ["JOBS_HOME"]) / "slow-start"
if "PREFECT__FLOW_RUN_ID" in os.environ and not _MARK.exists():
    _MARK.touch()
    time.sleep(3600)


@flow(name="test-slow-start")
def slow_start() -> str:
    return "started"
