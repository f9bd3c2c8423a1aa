"""Create or upgrade the application database schema with Alembic."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from jobs.db.engine import get_engine

_SCRIPTS = Path(__file__).parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["engine"] = get_engine(url)
    return config


def migrate(url: str | None = None) -> None:
    """Bring the schema at ``url`` (default: the setting) up to the newest revision."""
    command.upgrade(alembic_config(url), "head")
