"""The catalogue of job types, and the priority scale.

Each job type is declared here once: its name, parameter model, flow (name, entrypoint, time
limit, retries of its tasks), and deployment (name, description, tags, default queue,
concurrency, schedule). The flows take their names, time limits and retries from it;
``prefect.yaml`` is generated from it (``python -m jobs deployments``, checked by a unit test);
the worker preloads its entrypoints; the client, the automations and the recurring-job API look
job types up in it. Adding a job type = its parameter model and domain module, its flow, and
one entry here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from jobs.data.params import CancelStaleOrders, DailyRollups, ExportTable, WeeklyReport
from jobs.email.params import SendEmail, SendNewsletter
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
from jobs.params import JobParams, Ping
from jobs.status import Lane

URGENT, NORMAL, LOW = 1, 5, 10
PRIORITIES = range(URGENT, LOW + 1)
PRIORITY_EXPECTED = f"an integer from {URGENT} (urgent) to {LOW} (low)"
HOUR = 3600
BATCH_FLOW = "run-batch"
"""The flow that runs a batch of jobs of one type, each as its own task run."""
BATCH_ENTRYPOINT = "flows/batch.py:run_batch"


@dataclass(frozen=True)
class JobType:
    """One kind of job: its parameters, its flow and the deployment that runs it."""

    name: str
    params: type[JobParams]
    entrypoint: str  # flows/<module>.py:<function>
    flow: str  # the flow's name
    deployment: str  # the deployment's name
    description: str
    tags: tuple[str, ...]
    time_limit: float  # the flow's timeout_seconds; the worker kills it 10 s later
    retries: int  # of each of the flow's tasks
    concurrency: int | None = None  # runs of this job type at once
    on_collision: Literal["ENQUEUE", "CANCEL_NEW"] = "ENQUEUE"
    priority: int = NORMAL  # the default work queue: priority-<n>
    schedule: str | None = None  # cron, UTC: a recurring job
    lane: Lane = Lane.FLOW  # how its jobs run unless a submit says otherwise
    batch_threads: int = 1  # jobs of one batch run at once (batched lane only)

    @property
    def deployment_name(self) -> str:
        return f"{self.flow}/{self.deployment}"

    @property
    def batch_deployment_name(self) -> str:
        """The deployment of this job type's batches (batched lane)."""
        return f"{BATCH_FLOW}/{self.deployment}"

    @property
    def batchable(self) -> bool:
        return self.lane is Lane.BATCH

    @property
    def module(self) -> str:
        """The Python module of the flow, e.g. ``flows.mail``."""
        return self.entrypoint.partition(":")[0].removesuffix(".py").replace("/", ".")


def _recurring(
    name: str,
    params: type[JobParams],
    entrypoint: str,
    flow: str,
    deployment: str,
    description: str,
    **more: Any,
) -> JobType:
    """A maintenance job: on a schedule, one run at a time (a run due while one is still going
    is cancelled rather than queued)."""
    options: dict[str, Any] = {"concurrency": 1, "on_collision": "CANCEL_NEW", "retries": 3}
    return JobType(name, params, entrypoint, flow, deployment, description, **{**options, **more})


JOB_TYPES: dict[str, JobType] = {
    job_type.name: job_type
    for job_type in (
        JobType(
            "email", SendEmail, "flows/mail.py:send_email", "send-email", "email",
            "Send one email (template or raw body, attachments), at most once per key.",
            ("email",), time_limit=900, retries=5, lane=Lane.BATCH, batch_threads=8,
        ),
        JobType(
            "ping", Ping, "flows/ping.py:ping", "ping", "ping",
            "Does nothing; checks that workers pick up and finish jobs.",
            ("health",), time_limit=60, retries=0, lane=Lane.BATCH, batch_threads=8,
        ),
        JobType(
            "webhook", DeliverWebhook, "flows/outbound.py:deliver_webhook", "deliver-webhook",
            "webhook",
            "Deliver one signed webhook event; retries on network errors, 408, 429, 5xx.",
            ("http",), time_limit=1800, retries=5, lane=Lane.BATCH, batch_threads=16,
        ),
        JobType(
            "api_call", ApiCall, "flows/outbound.py:call_api", "call-api", "api-call",
            "One call to an external API (payment callbacks, posting, sync); retried.",
            ("http",), time_limit=1800, retries=5, lane=Lane.BATCH, batch_threads=16,
        ),
        JobType(
            "image", ProcessImage, "flows/media.py:process_image", "process-image", "image",
            "Resize (cover, contain, exact), convert, optimise and strip one image.",
            ("media",), time_limit=30, retries=1, concurrency=2,
            lane=Lane.BATCH, batch_threads=2,
        ),
        JobType(
            "thumbnails", MakeThumbnails, "flows/media.py:make_thumbnails", "make-thumbnails",
            "thumbnails", "Several thumbnail sizes of one image, from one reduced-scale decode.",
            ("media",), time_limit=30, retries=1, concurrency=2,
            lane=Lane.BATCH, batch_threads=2,
        ),
        JobType(
            "pdf", ImagesToPdf, "flows/media.py:images_to_pdf", "images-to-pdf", "pdf",
            "Several images into one PDF, one page each.",
            ("media",), time_limit=300, retries=1, concurrency=2,
        ),
        JobType(
            "video", TranscodeVideo, "flows/media.py:transcode_video", "transcode-video", "video",
            "Transcode a video to H.264 MP4 or VP9 WebM and extract a poster (ffmpeg).",
            ("media",), time_limit=3300, retries=1, concurrency=1,
        ),
        JobType(
            "newsletter", SendNewsletter, "flows/mail.py:send_newsletter", "send-newsletter",
            "newsletter",
            "Send one message to many recipients in chunks; retries skip those done.",
            ("email",), time_limit=6 * HOUR, retries=5, concurrency=2,
        ),
        JobType(
            "export", ExportTable, "flows/data.py:export_table", "export-table", "export",
            "Export an allow-listed table (or columns) to CSV, XLSX and Parquet, in chunks.",
            ("data",), time_limit=4 * HOUR, retries=3, concurrency=2,
        ),
        JobType(
            "report", WeeklyReport, "flows/data.py:weekly_report", "weekly-report", "report",
            "Weekly orders, revenue and signups per day (CSV, XLSX, chart), emailed to ops.",
            ("data",), time_limit=1800, retries=3, concurrency=1, schedule="0 9 * * 1",
        ),
        JobType(
            "rollup", DailyRollups, "flows/data.py:daily_rollup", "daily-rollup", "rollup",
            "Recompute daily_rollups (orders, revenue, signups) for a range of days.",
            ("data",), time_limit=1800, retries=3, concurrency=1,
        ),
        JobType(
            "cancel_stale_orders", CancelStaleOrders, "flows/data.py:cancel_stale_orders",
            "cancel-stale-orders", "stale-orders",
            "Cancel orders pending too long, one transaction per chunk; re-runs continue.",
            ("data",), time_limit=HOUR, retries=3, concurrency=1,
        ),
        _recurring(
            "db_cleanup", CleanupDatabase, "flows/maintenance.py:cleanup_database",
            "cleanup-database", "db-cleanup",
            "Delete expired sessions, old ledger, HTTP-attempt and outbox rows; VACUUM/ANALYZE.",
            tags=("maintenance",), time_limit=2 * HOUR, priority=LOW, schedule="0 2 * * *",
        ),
        _recurring(
            "cache_cleanup", InvalidateCache, "flows/maintenance.py:invalidate_cache",
            "invalidate-cache", "cache-cleanup",
            "Delete generated files (exports, reports, media variants) past the cache age.",
            tags=("maintenance",), time_limit=HOUR, priority=LOW, schedule="20 * * * *",
        ),
        _recurring(
            "reminders", SendReminders, "flows/maintenance.py:send_reminders", "send-reminders",
            "reminders", "Email users whose subscription period ends soon, once per period.",
            tags=("maintenance",), time_limit=1800, schedule="0 8 * * *",
        ),
        _recurring(
            "renewals", RenewSubscriptions, "flows/maintenance.py:renew_subscriptions",
            "renew-subscriptions", "renewals",
            "Charge subscriptions whose period ended (an api_call job each), then advance them.",
            tags=("maintenance",), time_limit=1800, schedule="0 * * * *",
        ),
        _recurring(
            "retention", PruneJobHistory, "flows/maintenance.py:prune_job_history",
            "prune-job-history", "retention",
            "Delete old finished job runs (JOBS_RETENTION_*) with their task runs and logs.",
            tags=("maintenance",), time_limit=HOUR, priority=LOW, schedule="40 * * * *",
        ),
    )
}  # fmt: skip


def job_type(name: str) -> JobType:
    """The job type called ``name``."""
    if isinstance(name, str) and name in JOB_TYPES:
        return JOB_TYPES[name]
    known = ", ".join(sorted(JOB_TYPES))
    raise InvalidJobParams(f"job_type: expected one of {known}, got {received(name)}")


def job_type_named_by(tags: Sequence[str]) -> str:
    """The job type a run's ``job:<type>`` tag names ("unknown" without one)."""
    for tag in tags:
        if tag.startswith("job:"):
            return tag.removeprefix("job:")
    return "unknown"


def job_type_of(params: JobParams) -> JobType:
    """The job type whose parameter model ``params`` is."""
    for candidate in JOB_TYPES.values():
        if type(params) is candidate.params:
            return candidate
    raise InvalidJobParams(f"no job type takes {type(params).__name__} parameters")


def validate(
    job_type: JobType, params: JobParams | Mapping[str, Any], index: int | None = None
) -> JobParams:
    """``params`` checked against the job type's model, or InvalidJobParams saying why not.

    ``index`` names the job's place in a batch, in the message.
    """
    if isinstance(params, job_type.params):
        return params
    if isinstance(params, JobParams):
        raise InvalidJobParams(
            f"{job_type.name} jobs take {job_type.params.__name__}; got {type(params).__name__}"
        )
    try:
        return job_type.params.model_validate(params)
    except ValidationError as exc:
        raise InvalidJobParams(_describe(job_type, exc, index)) from None


def _describe(job_type: JobType, exc: ValidationError, index: int | None) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "parameters"
        got = repr(error.get("input"))
        got = got if len(got) <= 80 else got[:77] + "..."
        problems.append(f"{where}: {error['msg']} (got {got})")
    which = "" if index is None else f" #{index}"
    return f"invalid {job_type.name} job parameters{which}: " + "; ".join(problems)


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
