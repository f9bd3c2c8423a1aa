"""What may be exported: an allow-list of tables and columns. Nothing else is ever queried."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the ORM is imported only to query, not to validate parameters
    from sqlalchemy import Column, Select, Table

ALLOWED_COLUMNS: dict[str, tuple[str, ...]] = {
    "users": ("id", "email", "name", "created_at"),
    "orders": ("id", "user_id", "status", "total_cents", "currency", "created_at"),
    "subscriptions": (
        "id",
        "user_id",
        "plan",
        "price_cents",
        "currency",
        "status",
        "current_period_end",
        "created_at",
    ),
    "sessions": ("id", "user_id", "expires_at"),  # never the token
    "daily_rollups": ("day", "metric", "value", "updated_at"),
}

TIME_COLUMNS: dict[str, str] = {
    "users": "created_at",
    "orders": "created_at",
    "subscriptions": "created_at",
    "sessions": "expires_at",
    "daily_rollups": "day",
}


def check_table(name: str) -> str:
    """``name`` if it is an exportable table, else ValueError naming the allowed ones."""
    if name not in ALLOWED_COLUMNS:
        raise ValueError(f"must be one of the exportable tables {', '.join(ALLOWED_COLUMNS)}")
    return name


def check_columns(table: str, names: list[str]) -> list[str]:
    """``names`` if each is an allowed column of ``table`` (once), else ValueError."""
    allowed = ALLOWED_COLUMNS[table]
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise ValueError(
            f"columns {unknown} are not exportable from {table}; allowed: {', '.join(allowed)}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"columns must be listed once each; got {names}")
    return names


def table_of(name: str) -> Table:
    """The SQLAlchemy table of an allow-listed name."""
    from jobs.db.models import Base

    return Base.metadata.tables[check_table(name)]


def columns_of(name: str, names: list[str] | None) -> list[Column[object]]:
    """The allowed columns ``names`` of table ``name`` (all allowed ones when None)."""
    table = table_of(name)
    chosen = check_columns(name, names) if names is not None else ALLOWED_COLUMNS[name]
    return [table.c[column] for column in chosen]


def ordered_select(name: str, names: list[str] | None) -> Select[*tuple[Any, ...]]:
    """SELECT of the chosen columns, in primary-key order."""
    from sqlalchemy import select

    table = table_of(name)
    return select(*columns_of(name, names)).order_by(*table.primary_key.columns)
