"""Typed models of the application database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Base of every model."""


class User(Base):
    """A user of the application."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EffectStatus(StrEnum):
    """Where one side effect stands."""

    PENDING = "pending"  # claimed; its outcome is unknown until marked
    DONE = "done"
    FAILED = "failed"  # did not happen; may be tried again
    REJECTED = "rejected"  # refused for good; not tried again


class SideEffect(Base):
    """Ledger row: one external side effect (an email to one recipient, ...) per key."""

    __tablename__ = "side_effects"

    key: Mapped[str] = mapped_column(String(500), primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    status: Mapped[EffectStatus] = mapped_column(String(20))
    job_id: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=1)
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class LoginSession(Base):
    """A login session; expired ones are removed by the cleanup job."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Order(Base):
    """An order placed by a user."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))  # pending, paid, refunded
    total_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Subscription(Base):
    """A user's paid plan, renewed at the end of each period."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    plan: Mapped[str] = mapped_column(String(50))
    price_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    status: Mapped[str] = mapped_column(String(20))  # active, past_due, cancelled
    current_period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebhookEndpoint(Base):
    """A destination for webhooks, with the secret its payloads are signed with."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HttpAttempt(Base):
    """One attempt at an outgoing HTTP call (webhook delivery or API call)."""

    __tablename__ = "http_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str | None] = mapped_column(String(64), index=True)
    endpoint_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_endpoints.id"))
    method: Mapped[str] = mapped_column(String(10))
    url: Mapped[str] = mapped_column(String(2000))
    attempt: Mapped[int]
    status_code: Mapped[int | None]
    latency_ms: Mapped[float | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DailyRollup(Base):
    """One metric's value for one day (analytics aggregation)."""

    __tablename__ = "daily_rollups"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    metric: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[float]
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class QueueState(StrEnum):
    """Where a job held in the ``queued_jobs`` table stands."""

    QUEUED = "queued"  # committed; waits for the relay (and for its time, if delayed)
    ASSIGNED = "assigned"  # packed by the relay; the flow run that runs it is being created
    DISPATCHED = "dispatched"  # its flow run (a batch's, or its own) exists
    RUNNING = "running"  # a batch is running it
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


UNFINISHED = (QueueState.QUEUED, QueueState.ASSIGNED, QueueState.DISPATCHED, QueueState.RUNNING)
NOT_STARTED = (QueueState.QUEUED, QueueState.ASSIGNED, QueueState.DISPATCHED)


class QueuedJob(Base):
    """A job submitted through the application database (the outbox): every batched job,
    every job enqueued in an application transaction, debounced and fairness-keyed jobs, and
    the idempotency key of every keyed job of either lane.

    A batched job's id is also the id of the Prefect task run that runs it; a flow-lane job
    relayed from here gets its own flow run (``run_id``).
    """

    __tablename__ = "queued_jobs"
    __table_args__ = (
        Index("ix_queued_jobs_due", "state", "priority", "run_at"),
        Index("ix_queued_jobs_turns", "job_type", "priority", "fairness_key", "state", "turn"),
        Index("ix_queued_jobs_batch", "batch_id"),
        Index("ix_queued_jobs_type_state", "job_type", "state"),
        # dead letters and metrics: failed jobs in a time window, jobs finished since a moment,
        # unfinished jobs of the batched lane (not the flow-lane rows kept as key holders)
        Index("ix_queued_jobs_finished", "state", "lane", "finished_at"),
        Index(
            "uq_queued_jobs_debounce",
            "debounce_key",
            unique=True,
            sqlite_where=text("state = 'queued'"),
            postgresql_where=text("state = 'queued'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    job_type: Mapped[str] = mapped_column(String(50))
    lane: Mapped[str] = mapped_column(String(10))  # jobs.status.Lane
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    priority: Mapped[int]
    tags: Mapped[list[str]] = mapped_column(JSON)
    run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    debounce_key: Mapped[str | None] = mapped_column(String(255))
    fairness_key: Mapped[str | None] = mapped_column(String(255))
    turn: Mapped[int] = mapped_column(default=1)  # its round among its fairness key's jobs
    state: Mapped[QueueState] = mapped_column(String(20))
    batch_id: Mapped[str | None] = mapped_column(String(36))
    run_id: Mapped[str | None] = mapped_column(String(36))
    attempts: Mapped[int] = mapped_column(default=0)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    """A key of the HTTP API: only its SHA-256 digest is kept; the key is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the key's first characters, to recognise it
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
