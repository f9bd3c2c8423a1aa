"""What the forkserver preloads, and the entry point of each forked flow-run process.

Importing this module imports Prefect's engine and every flow module; it must start no threads,
because the forkserver that imports it forks every flow run from itself. ``execute`` does what
``python -m prefect.engine`` does for the stock process worker, minus re-importing the flow.
"""

from __future__ import annotations

import ctypes
import importlib
import multiprocessing.forkserver
import os
import signal
import sys
from typing import Any
from uuid import UUID

import prefect.deployments.steps.core
import prefect.deployments.steps.pull
import prefect.task_engine
from prefect._internal.control_listener import configure_from_env
from prefect._internal.metrics import RunMetrics
from prefect.engine import _drive_run_flow_result, handle_engine_signals
from prefect.flow_engine import load_flow, load_flow_run, run_flow
from prefect.flows import Flow
from prefect.logging.loggers import flow_run_logger

from jobs.registry import BATCH_ENTRYPOINT, JOB_TYPES
from jobs.worker import heartbeats

PRELOADED = (prefect.deployments.steps.core, prefect.deployments.steps.pull, prefect.task_engine)


def _preloaded_flows() -> dict[str, Flow[..., Any]]:
    """Every job type's flow (the catalogue's) and the batch flow, imported now, by their
    deployments' entrypoint."""
    found: dict[str, Flow[..., Any]] = {}
    for entrypoint in [BATCH_ENTRYPOINT, *(job_type.entrypoint for job_type in JOB_TYPES.values())]:
        module, _, name = entrypoint.partition(":")
        flow = getattr(importlib.import_module(module.removesuffix(".py").replace("/", ".")), name)
        found[entrypoint] = flow
    return found


FLOWS = _preloaded_flows()


def _die_with_the_worker() -> None:
    """Be killed when this process's parent, the forkserver, dies (Linux).

    The forkserver exits when the worker does, once no process holds its "alive" pipe: each
    forked process inherits one end of it, which is closed here. A worker killed outright
    leaves nobody to enforce its runs' time limits, and an orphaned run can hang for good
    (Prefect's engine waits without a timeout for its suspension observer if the server goes
    away). Killed, the run stops sending heartbeats, so it is seen as a zombie and can be re-run.
    """
    if not sys.platform.startswith("linux"):
        return
    server: Any = multiprocessing.forkserver._forkserver
    if server._forkserver_alive_fd is not None:  # inherited: it would keep the forkserver alive
        os.close(server._forkserver_alive_fd)
        server._forkserver_alive_fd = None
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def execute(flow_run_id: str, entrypoint: str | None = None) -> None:
    """Run one flow run through Prefect's engine, in this (freshly forked) process.

    With ``entrypoint`` naming a preloaded flow, the flow is not loaded again; otherwise Prefect
    loads it as its own engine would (deployment pull steps, then the entrypoint).
    """
    os.setsid()  # own process group: a hard kill takes any children of the job with it
    _die_with_the_worker()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the forkserver ignores it; runs must not
    os.environ["PREFECT__FLOW_RUN_ID"] = flow_run_id
    run_id = UUID(flow_run_id)
    configure_from_env()
    heartbeats.install()
    with handle_engine_signals(run_id):
        flow_run = load_flow_run(flow_run_id=run_id)
        run_logger = flow_run_logger(flow_run=flow_run)
        flow = FLOWS.get(entrypoint or "") or load_flow(flow_run)
        with RunMetrics(flow_run, flow):
            result = run_flow(flow, flow_run=flow_run, error_logger=run_logger)  # type: ignore[arg-type]
            _drive_run_flow_result(flow, result)
