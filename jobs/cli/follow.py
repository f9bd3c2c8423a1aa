"""Following one job to its end: a live progress bar for people, JSON lines for scripts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from jobs.cli.output import Output, state_text
from jobs.status import JobStatus

if TYPE_CHECKING:
    from jobs.client import Client

FINAL_WAIT_SECONDS = 30.0
"""How long the final status may take once the job is seen finished (a flow run's attempts are
recorded up to 1.5 s after its end)."""


async def follow(
    client: Client, job_id: str, poll: float, seen: Callable[[JobStatus], None]
) -> JobStatus:
    """Read the job's status every ``poll`` seconds, passing each to ``seen``, until it is
    completed, failed or cancelled; its final status (attempts recorded)."""
    while True:
        status = await client.status_async(job_id)
        if status.state.is_final:
            final = await client.wait_async(job_id, timeout=FINAL_WAIT_SECONDS, poll=poll)
            seen(final)
            return final
        seen(status)
        await asyncio.sleep(poll)


def _description(status: JobStatus) -> str:
    return f"{status.job_type} {str(status.id)[:8]} {state_text(status.state)}"


async def watch(client: Client, job_id: str, out: Output, poll: float) -> JobStatus:
    """Follow the job: a progress bar on the terminal, or (``--json``) one JSON line of its
    status each time its state or progress changes, the last its final status."""
    if out.json:
        last: list[tuple[object, float]] = []

        def emit(status: JobStatus) -> None:
            if not last or last[-1] != (status.state, status.progress) or status.state.is_final:
                last.append((status.state, status.progress))
                out.data(status)

        return await follow(client, job_id, poll, emit)

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=out.out,
        refresh_per_second=4,
        disable=not out.out.is_terminal,  # piped: only the final line
    )
    with bar:
        task = bar.add_task(f"job {job_id[:8]}", total=100)

        def show(status: JobStatus) -> None:
            bar.update(task, completed=status.progress, description=_description(status))

        return await follow(client, job_id, poll, show)
