"""API keys: made once, kept as digests, checked, scoped and revoked, on a real database."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from jobs import apikeys
from jobs.apikeys import Scope
from jobs.db.engine import session
from jobs.db.models import ApiKey
from jobs.errors import InvalidJobParams, KeyNotFound


def test_a_key_is_shown_once_and_kept_only_as_its_digest(app_db_url: str) -> None:
    info, key = apikeys.create("reports-service", "submit,read", app_db_url)
    assert key.startswith("jobs_") and len(key) > 40
    assert set(info.scopes) == {Scope.SUBMIT, Scope.READ}
    with session(app_db_url) as db:
        row = db.scalar(select(ApiKey).where(ApiKey.name == "reports-service"))
    assert row is not None
    assert key not in (row.digest, row.prefix) and row.digest == apikeys.digest(key)
    assert key.startswith(row.prefix)

    found = apikeys.authenticate(key, app_db_url)
    assert found is not None and found.name == "reports-service"
    assert found.allows(Scope.READ) and not found.allows(Scope.ADMIN)
    assert found.last_used_at is not None


def test_admin_covers_every_scope(app_db_url: str) -> None:
    info, _ = apikeys.create("operator", ["admin"], app_db_url)
    assert all(info.allows(scope) for scope in Scope)


def test_wrong_or_revoked_keys_are_refused(app_db_url: str) -> None:
    _, key = apikeys.create("billing", "submit", app_db_url)
    assert apikeys.authenticate(key + "x", app_db_url) is None
    assert apikeys.authenticate("Bearer " + key, app_db_url) is None
    revoked = apikeys.revoke("billing", app_db_url)
    assert revoked.revoked_at is not None and not revoked.allows(Scope.SUBMIT)
    assert apikeys.authenticate(key, app_db_url) is None
    assert apikeys.revoke("billing", app_db_url).revoked_at == revoked.revoked_at
    assert "billing" in {info.name for info in apikeys.list_keys(app_db_url)}


def test_bad_names_and_scopes_are_named(app_db_url: str) -> None:
    with pytest.raises(InvalidJobParams, match=r"scopes: expected one or more of submit, "):
        apikeys.create("x", "submit,write", app_db_url)
    with pytest.raises(InvalidJobParams, match=r"scopes: .*got str ''"):
        apikeys.create("x", "", app_db_url)
    with pytest.raises(InvalidJobParams, match=r"name: expected a non-empty name"):
        apikeys.create("", "read", app_db_url)
    apikeys.create("twice", "read", app_db_url)
    with pytest.raises(InvalidJobParams, match=r"name: expected a name no other key has"):
        apikeys.create("twice", "read", app_db_url)
    with pytest.raises(KeyNotFound, match="no API key is named 'nobody'"):
        apikeys.revoke("nobody", app_db_url)
