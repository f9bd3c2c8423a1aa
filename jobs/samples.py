"""One sample job of each job type, submitted by ``make up`` (idempotent: same keys each time)."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from jobs.client import Client
from jobs.data.params import CancelStaleOrders, DailyRollups, ExportTable, WeeklyReport
from jobs.db.engine import session
from jobs.db.models import WebhookEndpoint
from jobs.email.params import Recipient, SendEmail, SendNewsletter
from jobs.images import samples as media_samples
from jobs.maintenance.params import (
    CleanupDatabase,
    InvalidateCache,
    PruneJobHistory,
    RenewSubscriptions,
    SendReminders,
)
from jobs.outbound.params import ApiCall, DeliverWebhook
from jobs.params import JobParams
from jobs.settings import DEV_HOST, Settings
from jobs.status import Job

SAMPLES: dict[str, JobParams] = {
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
    """Create what the samples need: media input files, the development webhook endpoint."""
    media_samples.prepare(client.settings.storage_dir)
    SAMPLES.update(_outbound_samples(client.settings))


def _outbound_samples(settings: Settings) -> dict[str, JobParams]:
    """A webhook and an API call to the development HTTP receiver that `make up` starts."""
    base = f"http://{DEV_HOST}:{settings.dev_webhook_port}"
    url = f"{base}/hooks/sample"
    with session() as db, db.begin():
        endpoint = db.scalar(select(WebhookEndpoint).where(WebhookEndpoint.url == url))
        if endpoint is None:
            endpoint = WebhookEndpoint(url=url, secret=secrets.token_hex(16))
            db.add(endpoint)
            db.flush()
        endpoint_id = endpoint.id
    return {
        "webhook": DeliverWebhook(
            event="order.paid", payload={"order_id": 1}, endpoint_id=endpoint_id
        ),
        "api_call": ApiCall(method="POST", url=f"{base}/api/sync", json_body={"sync": "users"}),
    }


def submit_all(client: Client) -> dict[str, Job]:
    """Submit each sample once; a second call returns the same jobs."""
    prepare(client)
    return {
        name: client.submit(params, idempotency_key=f"sample-{name}")
        for name, params in SAMPLES.items()
    }
