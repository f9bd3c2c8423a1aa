"""One sample job of each job type, submitted by ``make up`` (idempotent: same keys each time)."""

from __future__ import annotations

from jobs.client import Client
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
}


def submit_all(client: Client) -> dict[str, Job]:
    """Submit each sample once; a second call returns the same jobs."""
    return {
        name: client.submit(params, idempotency_key=f"sample-{name}")
        for name, params in SAMPLES.items()
    }
