"""The side-effect ledger on a real SQLite database: at most once per key."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from jobs import ledger
from jobs.db.engine import session
from jobs.db.migrate import alembic_config, migrate
from jobs.db.models import EffectStatus, SideEffect
from jobs.ledger import Claim

pytestmark = pytest.mark.usefixtures("app_db")

# The newest migration, read from the migration scripts themselves.
HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def new_key() -> str:
    return f"test:{uuid.uuid4()}"


def row(key: str) -> SideEffect:
    with session() as db:
        found = db.get(SideEffect, key)
        assert found is not None, f"no ledger row for {key!r}"
        return found


def test_first_claim_goes_and_records_a_pending_row() -> None:
    key = new_key()

    assert ledger.claim(key, "email", "job-1") is Claim.GO

    found = row(key)
    assert found.status == EffectStatus.PENDING
    assert found.kind == "email"
    assert found.job_id == "job-1"
    assert found.attempts == 1
    assert found.created_at is not None


def test_claim_while_pending_is_unknown() -> None:
    key = new_key()
    ledger.claim(key, "email", "job-1")

    assert ledger.claim(key, "email", "job-2") is Claim.UNKNOWN
    assert row(key).job_id == "job-1"
    assert row(key).attempts == 1


def test_done_key_is_never_claimed_again() -> None:
    key = new_key()
    ledger.claim(key, "email")
    ledger.settle(key, EffectStatus.DONE, "sent <id@example.org>")

    assert ledger.claim(key, "email") is Claim.DONE
    assert ledger.claim(key, "email") is Claim.DONE
    found = row(key)
    assert found.status == EffectStatus.DONE
    assert found.detail == "sent <id@example.org>"
    assert found.attempts == 1


def test_failed_key_is_claimed_again_and_attempts_go_up() -> None:
    key = new_key()
    ledger.claim(key, "email", "job-1")
    ledger.settle(key, EffectStatus.FAILED, "SMTPDataError(451)")

    assert ledger.claim(key, "email", "job-2") is Claim.GO

    found = row(key)
    assert found.status == EffectStatus.PENDING
    assert found.attempts == 2
    assert found.job_id == "job-2"

    ledger.settle(key, EffectStatus.FAILED, "again")
    assert ledger.claim(key, "email", "job-3") is Claim.GO
    assert row(key).attempts == 3


def test_rejected_key_is_claimed_again() -> None:
    key = new_key()
    ledger.claim(key, "email")
    ledger.settle(key, EffectStatus.REJECTED, "550 no such user")

    assert ledger.claim(key, "email") is Claim.GO
    assert row(key).status == EffectStatus.PENDING
    assert row(key).attempts == 2


def test_reclaimed_key_is_unknown_to_a_second_claimer() -> None:
    key = new_key()
    ledger.claim(key, "email")
    ledger.settle(key, EffectStatus.FAILED)

    assert ledger.claim(key, "email") is Claim.GO
    assert ledger.claim(key, "email") is Claim.UNKNOWN


def test_settle_records_the_detail_and_time() -> None:
    key = new_key()
    ledger.claim(key, "email")
    before = row(key).updated_at

    ledger.settle(key, EffectStatus.DONE, "sent")

    found = row(key)
    assert found.detail == "sent"
    assert found.updated_at >= before


def test_status_of_reports_only_keys_with_rows() -> None:
    done, failed, missing = new_key(), new_key(), new_key()
    for key, status in ((done, EffectStatus.DONE), (failed, EffectStatus.FAILED)):
        ledger.claim(key, "email")
        ledger.settle(key, status)

    found = ledger.status_of([done, failed, missing])

    assert found == {done: EffectStatus.DONE, failed: EffectStatus.FAILED}
    assert all(isinstance(status, EffectStatus) for status in found.values())


def claim_concurrently(key: str, threads: int) -> list[Claim]:
    """``threads`` claims of ``key``, released at the same instant."""
    start = threading.Barrier(threads)

    def claim(n: int) -> Claim:
        start.wait()
        return ledger.claim(key, "email", f"job-{n}")

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(claim, range(threads)))


def test_concurrent_claims_of_a_new_key_give_exactly_one_go() -> None:
    key = new_key()
    threads = 8
    results = claim_concurrently(key, threads)

    assert results.count(Claim.GO) == 1, results
    assert results.count(Claim.UNKNOWN) == threads - 1, results
    assert row(key).attempts == 1


def test_concurrent_claims_of_a_failed_key_give_exactly_one_go() -> None:
    key = new_key()
    ledger.claim(key, "email")
    ledger.settle(key, EffectStatus.FAILED)
    threads = 8
    results = claim_concurrently(key, threads)

    assert results.count(Claim.GO) == 1, results
    assert results.count(Claim.UNKNOWN) == threads - 1, results
    assert row(key).attempts == 2


# -- migrations -----------------------------------------------------------------------------


def test_migrate_creates_the_tables_on_a_fresh_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/x.db"

    migrate(url)

    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        assert {"users", "side_effects", "alembic_version"} <= set(inspector.get_table_names())
        columns = {column["name"] for column in inspector.get_columns("side_effects")}
        assert columns == {
            "key",
            "kind",
            "status",
            "job_id",
            "attempts",
            "detail",
            "created_at",
            "updated_at",
        }
        assert inspector.get_pk_constraint("side_effects")["constrained_columns"] == ["key"]
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).all() == [
                (HEAD,)
            ]
    finally:
        engine.dispose()


def test_migrate_twice_is_harmless_and_keeps_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/twice.db"
    migrate(url)
    with session(url) as db, db.begin():
        db.add(SideEffect(key="kept", kind="email", status=EffectStatus.DONE))

    migrate(url)

    with session(url) as db:
        kept = db.get(SideEffect, "kept")
        assert kept is not None and kept.status == EffectStatus.DONE
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
        assert versions == [(HEAD,)]
    finally:
        engine.dispose()


def test_migrate_creates_missing_parent_folders(tmp_path: Path) -> None:
    path = tmp_path / "deeper" / "still" / "app.db"

    migrate(f"sqlite:///{path}")

    assert path.is_file()
