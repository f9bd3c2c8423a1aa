"""Job types (name, parameter model, deployment) and the priority scale."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from jobs.data.params import CancelStaleOrders, DailyRollups, ExportTable, WeeklyReport
from jobs.errors import InvalidJobParams, received
from jobs.images.params import ImagesToPdf, MakeThumbnails, ProcessImage, TranscodeVideo
from jobs.maintenance.params import (
    CleanupDatabase,
    InvalidateCache,
    PruneJobHistory,
    RenewSubscriptions,
    SendReminders,
)
from jobs.outbound.params import ApiCall, DeliverWebhook
from jobs.params import JobParams, Ping, SendEmail, SendNewsletter

URGENT, NORMAL, LOW = 1, 5, 10
PRIORITIES = range(URGENT, LOW + 1)
PRIORITY_EXPECTED = f"an integer from {URGENT} (urgent) to {LOW} (low)"


@dataclass(frozen=True)
class JobType:
    """One kind of job: its parameters and the deployment that runs it."""

    name: str
    params: type[JobParams]
    flow: str
    deployment: str

    @property
    def deployment_name(self) -> str:
        return f"{self.flow}/{self.deployment}"


JOB_TYPES: dict[str, JobType] = {
    job_type.name: job_type
    for job_type in (
        JobType("email", SendEmail, "send-email", "email"),
        JobType("newsletter", SendNewsletter, "send-newsletter", "newsletter"),
        JobType("export", ExportTable, "export-table", "export"),
        JobType("report", WeeklyReport, "weekly-report", "report"),
        JobType("rollup", DailyRollups, "daily-rollup", "rollup"),
        JobType("cancel_stale_orders", CancelStaleOrders, "cancel-stale-orders", "stale-orders"),
        JobType("webhook", DeliverWebhook, "deliver-webhook", "webhook"),
        JobType("api_call", ApiCall, "call-api", "api-call"),
        JobType("ping", Ping, "ping", "ping"),
        JobType("image", ProcessImage, "process-image", "image"),
        JobType("thumbnails", MakeThumbnails, "make-thumbnails", "thumbnails"),
        JobType("pdf", ImagesToPdf, "images-to-pdf", "pdf"),
        JobType("video", TranscodeVideo, "transcode-video", "video"),
        JobType("db_cleanup", CleanupDatabase, "cleanup-database", "db-cleanup"),
        JobType("cache_cleanup", InvalidateCache, "invalidate-cache", "cache-cleanup"),
        JobType("reminders", SendReminders, "send-reminders", "reminders"),
        JobType("renewals", RenewSubscriptions, "renew-subscriptions", "renewals"),
        JobType("retention", PruneJobHistory, "prune-job-history", "retention"),
    )
}


def job_type(name: str) -> JobType:
    """The job type called ``name``."""
    if isinstance(name, str) and name in JOB_TYPES:
        return JOB_TYPES[name]
    known = ", ".join(sorted(JOB_TYPES))
    raise InvalidJobParams(f"job_type: expected one of {known}, got {received(name)}")


def job_type_of(params: JobParams) -> JobType:
    """The job type whose parameter model ``params`` is."""
    for candidate in JOB_TYPES.values():
        if type(params) is candidate.params:
            return candidate
    raise InvalidJobParams(f"no job type takes {type(params).__name__} parameters")


def validate(
    kind: JobType, params: JobParams | Mapping[str, Any], index: int | None = None
) -> JobParams:
    """``params`` checked against the job type's model, or InvalidJobParams saying why not.

    ``index`` names the job's place in a batch, in the message.
    """
    if isinstance(params, kind.params):
        return params
    if isinstance(params, JobParams):
        raise InvalidJobParams(
            f"{kind.name} jobs take {kind.params.__name__}; got {type(params).__name__}"
        )
    try:
        return kind.params.model_validate(params)
    except ValidationError as exc:
        raise InvalidJobParams(_describe(kind, exc, index)) from None


def _describe(kind: JobType, exc: ValidationError, index: int | None) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "parameters"
        got = repr(error.get("input"))
        got = got if len(got) <= 80 else got[:77] + "..."
        problems.append(f"{where}: {error['msg']} (got {got})")
    which = "" if index is None else f" #{index}"
    return f"invalid {kind.name} job parameters{which}: " + "; ".join(problems)


def queue_for(priority: int) -> str:
    """The work queue for a job priority (1 = urgent ... 10 = low)."""
    if isinstance(priority, bool) or not isinstance(priority, int) or priority not in PRIORITIES:
        raise InvalidJobParams(f"priority: expected {PRIORITY_EXPECTED}, got {received(priority)}")
    return f"priority-{priority}"


def priority_of(queue_name: str | None) -> int | None:
    """The priority a work queue stands for, if it is one of ours."""
    prefix = "priority-"
    if queue_name and queue_name.startswith(prefix) and queue_name[len(prefix) :].isdigit():
        return int(queue_name[len(prefix) :])
    return None
