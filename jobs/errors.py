"""The one exception hierarchy of the jobs package."""

from __future__ import annotations


class JobsError(Exception):
    """Unexpected jobs error."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.__doc__)


class JobNotFound(JobsError):
    """No job with that id exists."""


class InvalidJobParams(JobsError):
    """The job's parameters are not valid."""


class SubmitFailed(JobsError):
    """The job could not be submitted to the Prefect server."""


class PermanentJobError(JobsError):
    """The job failed for a reason that retrying cannot fix."""
