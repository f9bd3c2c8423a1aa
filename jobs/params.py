"""The base of every job type's parameter model, and types the models share.

Each job type's model lives with its domain (``jobs/<domain>/params.py``); the catalogue
(:mod:`jobs.registry`) names them. A model is validated at submit time and again by the flow.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _no_line_breaks(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"must be a single line without CR or LF, got {value!r}")
    return value


HeaderText = Annotated[str, AfterValidator(_no_line_breaks)]


class JobParams(BaseModel):
    """Base of every job type's parameter model."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Ping(JobParams):
    """A job that does nothing: checks that workers pick up and finish jobs."""

    note: str = Field("pong", max_length=200)
    seconds: float = Field(
        0, ge=0, le=60, description="How long the job takes (to try time limits and slow workers)."
    )
    fail: bool = Field(False, description="Fail the job (to try failure handling and alerts).")
