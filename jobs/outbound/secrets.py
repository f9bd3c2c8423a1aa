"""Secrets of outgoing calls, read at run time from Prefect Secret blocks (never from params)."""

from __future__ import annotations

from prefect.blocks.system import Secret

from jobs.errors import PermanentJobError


def secret_value(block_name: str) -> str:
    """The string held by the Prefect Secret block ``block_name``."""
    try:
        block = Secret.load(block_name)
    except ValueError as exc:
        raise PermanentJobError(f"no Secret block named {block_name!r}: {exc}") from None
    value = block.get()  # type: ignore[union-attr]
    if not isinstance(value, str) or not value:
        raise PermanentJobError(f"Secret block {block_name!r} must hold a non-empty string")
    return value
