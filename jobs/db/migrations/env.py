"""Alembic environment: runs migrations on the engine handed over in the config."""

from __future__ import annotations

from alembic import context

from jobs.db.models import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=engine.dialect.name == "sqlite",
    )
    context.run_migrations()
