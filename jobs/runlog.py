"""Where job code logs what it did: the running task's or flow's log (shown with the run in the
UI), or the module's own logger outside a run (tests, benchmarks, scripts)."""

from __future__ import annotations

import logging
from typing import Any

Logger = logging.Logger | logging.LoggerAdapter[Any]


def logger(name: str) -> Logger:
    """The current run's logger, else ``logging.getLogger(name)``."""
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(name)
