"""Background jobs and queues for Python applications, on Prefect 3.

import jobs

client = jobs.Client()
job = client.submit("email", {"to": ["ada@example.com"], "subject": "Hi", "text": "Hello"})
client.wait(job).state  # JobState.COMPLETED

``jobs.enqueue(session, "email", {...})`` writes a job inside the application's own SQLAlchemy
transaction: it runs once if the transaction commits, never if it rolls back.

Every job type's parameter model is exported too (``jobs.SendEmail``, ``jobs.DeliverWebhook``,
...): ``client.submit(jobs.SendEmail(...))`` picks the job type from the model.
"""

from typing import TYPE_CHECKING, Any

from jobs.data.params import CancelStaleOrders, DailyRollups, ExportTable, WeeklyReport
from jobs.email.params import Attachment, Recipient, SendEmail, SendNewsletter
from jobs.errors import (
    InvalidJobParams,
    JobNotFound,
    JobsError,
    PermanentJobError,
    ServerUnavailable,
    SubmitFailed,
)
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
from jobs.settings import Settings
from jobs.status import Job, JobState, JobStatus, Lane, QueueStats, RecurringJob

if TYPE_CHECKING:
    from jobs.client import Client
    from jobs.transactional import enqueue, enqueue_async

__all__ = [  # noqa: RUF022 - grouped: the client, then the parameter models
    # the client, its settings, results and errors
    "Client",
    "InvalidJobParams",
    "Job",
    "JobNotFound",
    "JobState",
    "JobStatus",
    "JobsError",
    "Lane",
    "PermanentJobError",
    "QueueStats",
    "RecurringJob",
    "ServerUnavailable",
    "Settings",
    "SubmitFailed",
    "enqueue",
    "enqueue_async",
    # parameter models, one per job type (the catalogue: jobs/registry.py)
    "ApiCall",
    "Attachment",
    "CancelStaleOrders",
    "CleanupDatabase",
    "DailyRollups",
    "DeliverWebhook",
    "ExportTable",
    "ImagesToPdf",
    "InvalidateCache",
    "JobParams",
    "MakeThumbnails",
    "Ping",
    "ProcessImage",
    "PruneJobHistory",
    "Recipient",
    "RenewSubscriptions",
    "SendEmail",
    "SendNewsletter",
    "SendReminders",
    "TranscodeVideo",
    "WeeklyReport",
]


def __getattr__(name: str) -> Any:
    """``Client``, ``enqueue`` and ``enqueue_async``, imported on first use: the client brings
    Prefect, the others SQLAlchemy, which ``import jobs`` alone does not load (so the ``jobs``
    command starts fast)."""
    if name == "Client":
        from jobs.client import Client

        return Client
    if name in ("enqueue", "enqueue_async"):
        from jobs import transactional

        return getattr(transactional, name)
    raise AttributeError(f"module 'jobs' has no attribute {name!r}")
