"""Typed models of the application database."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import DateTime, String, Text
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
