"""One sample job of each job type, submitted by ``make up`` (idempotent: same keys each time)."""

from __future__ import annotations

from jobs.client import Client
from jobs.data.params import CancelStaleOrders, DailyRollups, ExportTable, WeeklyReport
from jobs.images import samples as media_samples
from jobs.maintenance.params import (
    CleanupDatabase,
    InvalidateCache,
    PruneJobHistory,
    RenewSubscriptions,
    SendReminders,
)
from jobs.params import Recipient, SendEmail, SendNewsletter
from jobs.status import Job

SAMPLES = {
    "email": SendEmail(
        to=["ada@example.com"],
        subject="Welcome to Jobs",
        template="welcome",
        context={"name": "Ada", "app_name": "Jobs"},
    ),
    "newsletter": SendNewsletter(
        subject="This month at Jobs",
        template="newsletter",
        context={
            "headline": "Background jobs, now with a dashboard",
            "body_paragraphs": ["Every job is a Prefect flow run.", "The UI is the queue."],
            "unsubscribe_url": "http://127.0.0.1/unsubscribe",
        },
        recipients=[
            Recipient(email=f"{name.lower()}@example.com", context={"name": name})
            for name in ("Grace", "Alan", "Barbara")
        ],
    ),
    "export": ExportTable(table="orders", formats=["csv", "xlsx", "parquet"]),
    "report": WeeklyReport(),
    "rollup": DailyRollups(),
    "cancel_stale_orders": CancelStaleOrders(older_than_days=30),
    "db_cleanup": CleanupDatabase(),
    "cache_cleanup": InvalidateCache(),
    "reminders": SendReminders(limit=5),
    "renewals": RenewSubscriptions(),
    "retention": PruneJobHistory(),
    **media_samples.samples(),
}


def prepare(client: Client) -> None:
    """Create the input files the samples need (media samples read files in the storage root)."""
    media_samples.prepare(client.settings.storage_dir)


def submit_all(client: Client) -> dict[str, Job]:
    """Submit each sample once; a second call returns the same jobs."""
    prepare(client)
    return {
        name: client.submit(params, idempotency_key=f"sample-{name}")
        for name, params in SAMPLES.items()
    }
