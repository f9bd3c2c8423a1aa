"""The exit codes of the ``jobs`` command, and which error ends it with which code."""

from __future__ import annotations

from enum import IntEnum

from jobs.errors import (
    InvalidJobParams,
    JobNotFound,
    JobsError,
    KeyNotFound,
    ServerUnavailable,
    SubmitFailed,
)


class ExitCode(IntEnum):
    """What a script can rely on (the README's "Command line" section lists them)."""

    OK = 0
    JOB_FAILED = 1  # the job followed ended failed or cancelled
    BAD_INPUT = 2  # a usage error, refused parameters or options, an unreadable file
    NOT_FOUND = 3  # no job with that id, no API key or recurring job of that name
    UNAVAILABLE = 4  # the Prefect server or the application database could not answer
    REFUSED = 5  # the job's state does not allow it (retry a completed job, cancel a finished one)
    TIMED_OUT = 6  # the job had not finished within --timeout
    INTERNAL = 70  # a bug: the one line says what went wrong
    INTERRUPTED = 130  # Ctrl-C


def exit_code_of(error: JobsError) -> ExitCode:
    """The exit code a jobs error ends the command with."""
    if isinstance(error, InvalidJobParams):
        return ExitCode.BAD_INPUT
    if isinstance(error, JobNotFound | KeyNotFound):
        return ExitCode.NOT_FOUND
    if isinstance(error, ServerUnavailable | SubmitFailed):
        return ExitCode.UNAVAILABLE
    return ExitCode.REFUSED
