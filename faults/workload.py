"""A burst of jobs whose side effects can be counted, and the count.

Each job has a key ``<scenario>-<n>``: its idempotency key, and the mark its side effect
carries — an email's recipient is ``<key>@example.com``, a webhook's delivery id (the
``X-Webhook-Id`` header) is the key. The development SMTP servers and HTTP receivers of the
worker hosts keep every message and request as a file, so deliveries per key can be counted.
Submits use client retries: a submit that fails (API or database down) is tried again with the
same key until it is taken, so a job is never submitted twice and never dropped by the client.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path

from sqlalchemy import select

import jobs
from jobs.db.engine import session
from jobs.db.models import WebhookEndpoint
from jobs.params import JobParams
from jobs.settings import DEV_HOST, Settings

log = logging.getLogger("faults")
SUBMIT_PATIENCE = 180.0  # a client gives a job up after this long of failed submits


@dataclass(frozen=True)
class Spec:
    """One job of a burst: its key, what it does, which lane."""

    key: str
    kind: str  # "email" or "webhook"
    lane: str  # "batch" or "flow"


def specs(scenario: str, count: int, flow_every: int = 10) -> list[Spec]:
    """``count`` jobs, emails and webhooks alternately; every ``flow_every``-th pair of the
    flow-run lane, the rest batched."""
    return [
        Spec(
            f"{scenario}-{n:05d}",
            "email" if n % 2 == 0 else "webhook",
            "flow" if (n // 2) % flow_every == 0 else "batch",
        )
        for n in range(count)
    ]


def webhook_endpoint(settings: Settings) -> int:
    """The endpoint row for the worker hosts' own HTTP receivers (created once)."""
    url = f"http://{DEV_HOST}:{settings.dev_webhook_port}/hooks/faults"
    with session(settings.app_database_url) as db, db.begin():
        found = db.scalar(select(WebhookEndpoint.id).where(WebhookEndpoint.url == url))
        if found is not None:
            return found
        endpoint = WebhookEndpoint(url=url, secret="faults-" + "0" * 24)
        db.add(endpoint)
        db.flush()
        return endpoint.id


def params(spec: Spec, endpoint: int) -> JobParams:
    if spec.kind == "email":
        return jobs.SendEmail(
            to=[f"{spec.key}@example.com"], subject="fault suite", text=f"job {spec.key}"
        )
    return jobs.DeliverWebhook(
        event="faults.test", payload={"key": spec.key}, endpoint_id=endpoint, delivery_id=spec.key
    )


@dataclass
class Submitted:
    """What the clients got back: a job id per key, and how often they had to try again."""

    ids: dict[str, str] = field(default_factory=dict)
    given_up: list[str] = field(default_factory=list)
    retries: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def submit(
    settings: Settings,
    burst: list[Spec],
    rate: float,
    threads: int = 4,
    started: threading.Event | None = None,
) -> Submitted:
    """Submit ``burst`` at about ``rate`` jobs/s from ``threads`` clients, with retries."""
    endpoint = webhook_endpoint(settings)
    out = Submitted()
    start = time.monotonic()

    def client_thread(index: int) -> None:
        client = jobs.Client(settings)
        for n in range(index, len(burst), threads):
            spec = burst[n]
            pause = start + n / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            if started is not None and n == 0:
                started.set()
            job = _submit_one(client, spec, params(spec, endpoint), out)
            with out.lock:
                if job is None:
                    out.given_up.append(spec.key)
                else:
                    out.ids[spec.key] = str(job.id)

    workers = [threading.Thread(target=client_thread, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return out


def _submit_one(
    client: jobs.Client, spec: Spec, job_params: JobParams, out: Submitted
) -> jobs.Job | None:
    deadline = time.monotonic() + SUBMIT_PATIENCE
    pause = 0.5
    while True:
        try:
            return client.submit(job_params, idempotency_key=spec.key, lane=spec.lane)
        except Exception as exc:  # the API or a database is down: try again, same key
            with out.lock:
                out.retries += 1
                out.errors[type(exc).__name__] += 1
            if time.monotonic() > deadline:
                log.warning("gave up submitting %s: %s", spec.key, exc)
                return None
            time.sleep(pause)
            pause = min(pause * 2, 5)


def deliveries(settings: Settings, prefix: str) -> Counter[str]:
    """Side effects that arrived, by key: emails in the Maildir, requests the receivers kept."""
    found: Counter[str] = Counter()
    parser = BytesHeaderParser()
    for folder in ("new", "cur"):
        for path in (settings.maildir / folder).glob("*"):
            with path.open("rb") as handle:
                to = parser.parse(handle).get("To", "")
            local = str(to).strip("<> ").split("@")[0]
            if local.startswith(prefix):
                found[local] += 1
    for path in Path(settings.home, "webhooks").glob("*.json"):
        try:
            headers = json.loads(path.read_text()).get("headers", {})
        except (OSError, ValueError):
            continue
        key = next((v for k, v in headers.items() if k.lower() == "x-webhook-id"), "")
        if key.startswith(prefix):
            found[key] += 1
    return found
