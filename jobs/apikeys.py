"""Keys of the HTTP API: created and revoked from the command line, kept as SHA-256 digests.

A key is ``jobs_`` and 43 random URL-safe characters (256 bits), so a plain digest is as hard
to reverse as the key is to guess; it is shown once, when made. Each key has scopes:
``submit`` (submit jobs), ``read`` (status, stats, metrics), ``admin`` (retry, cancel, replay,
recurring jobs); ``admin`` includes the other two.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from jobs.db.engine import session, through_outages
from jobs.db.models import ApiKey, utcnow
from jobs.errors import InvalidJobParams, KeyNotFound, received

PREFIX = "jobs_"
MAX_NAME_LENGTH = 100
USE_NOTED_EVERY = timedelta(minutes=1)
"""How stale a key's ``last_used_at`` may get: it is written at most this often, not per request."""


class Scope(StrEnum):
    """What a key may do."""

    SUBMIT = "submit"
    READ = "read"
    ADMIN = "admin"


class KeyInfo(BaseModel):
    """A key as listed: everything but the key itself."""

    name: str
    prefix: str
    scopes: list[Scope]
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    def allows(self, scope: Scope) -> bool:
        """Whether the key may do what ``scope`` covers (``admin`` covers everything)."""
        return self.revoked_at is None and (scope in self.scopes or Scope.ADMIN in self.scopes)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def scopes_of(scopes: Iterable[str] | str) -> list[Scope]:
    """The scopes named (a list, or one comma-separated string); InvalidJobParams naming any
    that is not one."""
    names = scopes.split(",") if isinstance(scopes, str) else list(scopes)
    names = [name.strip() for name in names if name.strip()]
    allowed = ", ".join(scope.value for scope in Scope)
    wrong = [name for name in names if name not in {scope.value for scope in Scope}]
    if wrong or not names:
        raise InvalidJobParams(f"scopes: expected one or more of {allowed}, got {received(scopes)}")
    return sorted(dict.fromkeys(Scope(name) for name in names))


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(
        name=row.name,
        prefix=row.prefix,
        scopes=[Scope(scope) for scope in row.scopes],
        created_at=_aware(row.created_at),
        revoked_at=_aware(row.revoked_at) if row.revoked_at else None,
        last_used_at=_aware(row.last_used_at) if row.last_used_at else None,
    )


def create(name: str, scopes: Iterable[str] | str, url: str | None = None) -> tuple[KeyInfo, str]:
    """A new key named ``name`` with ``scopes``: its description and the key, shown only now.
    InvalidJobParams for a bad name or scope, or a name already taken."""
    if not isinstance(name, str) or not 0 < len(name.strip()) <= MAX_NAME_LENGTH:
        raise InvalidJobParams(
            f"name: expected a non-empty name of at most {MAX_NAME_LENGTH} characters, "
            f"got {received(name)}"
        )
    chosen = scopes_of(scopes)
    key = PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        name=name.strip(),
        prefix=key[: len(PREFIX) + 6],
        digest=digest(key),
        scopes=[scope.value for scope in chosen],
        created_at=utcnow(),
    )
    try:
        with session(url) as db, db.begin():
            db.add(row)
    except IntegrityError:
        raise InvalidJobParams(
            f"name: expected a name no other key has, got {received(name)}"
        ) from None
    return _info(row), key


@through_outages
def authenticate(key: str, url: str | None = None) -> KeyInfo | None:
    """The key's description if it is a key not revoked, else None; its use is noted."""
    if not key.startswith(PREFIX):
        return None
    wanted = digest(key)
    with session(url) as db, db.begin():
        row = db.scalar(select(ApiKey).where(ApiKey.digest == wanted))
        if row is None or not hmac.compare_digest(row.digest, wanted) or row.revoked_at:
            return None
        now = utcnow()
        if row.last_used_at is None or now - _aware(row.last_used_at) > USE_NOTED_EVERY:
            row.last_used_at = now
        return _info(row)


def _aware(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def list_keys(url: str | None = None) -> list[KeyInfo]:
    """Every key, revoked ones included, by name."""
    with session(url) as db:
        return [_info(row) for row in db.scalars(select(ApiKey).order_by(ApiKey.name))]


def revoke(name: str, url: str | None = None) -> KeyInfo:
    """Revoke the key named ``name`` (at once: its next request is refused); KeyNotFound if
    there is none. Revoking a revoked key changes nothing."""
    with session(url) as db, db.begin():
        db.execute(
            update(ApiKey)
            .where(ApiKey.name == name, ApiKey.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        row = db.scalar(select(ApiKey).where(ApiKey.name == name))
        if row is None:
            raise KeyNotFound(f"no API key is named {name!r}")
        return _info(row)
