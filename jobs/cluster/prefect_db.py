"""Prepare the Prefect server's database once, in one process, before its API processes start.

Each of ``prefect server start --workers N``'s processes migrates the database and registers
Prefect's block types when it starts. On a fresh PostgreSQL database they race: one of them
dies at startup on a unique-key error (``uq_block_type__slug``) and is not replaced, leaving
N - 1. So the cluster runs this first (``python -m jobs.cluster.prefect_db``, with the server's
environment) and starts the API processes with both steps switched off.
"""

from __future__ import annotations

import asyncio

from prefect.server.database import provide_database_interface
from prefect.server.models.block_registration import run_block_auto_registration


async def prepare() -> None:
    """Migrate the database to this Prefect's schema and register its block types."""
    db = provide_database_interface()
    await db.create_db()
    session = await db.session()
    async with session:
        await run_block_auto_registration(session=session)


if __name__ == "__main__":
    asyncio.run(prepare())
