"""How the command line shows things: rich tables and lines for people, one JSON document (or
one per line, when following) for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from pydantic import BaseModel
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.table import Table

from jobs.status import JobState, JobStatus, QueueStats, RecurringJob

if TYPE_CHECKING:
    from jobs.apikeys import KeyInfo  # brings SQLAlchemy: only the keys commands load it

STATE_STYLE = {
    JobState.DELAYED: "cyan",
    JobState.WAITING: "yellow",
    JobState.ACTIVE: "blue",
    JobState.COMPLETED: "green",
    JobState.FAILED: "red",
    JobState.CANCELLED: "magenta",
    JobState.PAUSED: "dim",
}
COUNTS = ("waiting", "delayed", "active", "completed", "failed", "cancelled", "paused")


class Output:
    """Where a command writes: ``out`` (standard output), ``err`` (standard error); ``json``
    says whether standard output takes JSON instead of text."""

    def __init__(self, json_output: bool) -> None:
        self.json = json_output
        self.out = Console(highlight=False)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    def data(self, value: Any) -> None:
        """One JSON document on one line of standard output."""
        sys.stdout.write(json.dumps(plain(value), ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def result(self, value: Any, shown: RenderableType) -> None:
        """A command's result: ``value`` as JSON with ``--json``, else ``shown`` (a line of
        text, or a table)."""
        if self.json:
            self.data(value)
        elif isinstance(shown, str):
            self.line(shown)
        else:
            self.out.print(shown)

    def line(self, text: str) -> None:
        """One line of text (rich markup) on standard output, never cut into several."""
        self.out.print(text, soft_wrap=True)

    def note(self, text: str) -> None:
        """One line of text (rich markup) for the person at the terminal, on standard error."""
        self.err.print(text)


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data: models dumped, lists and dicts walked."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def state_text(state: JobState) -> str:
    return f"[{STATE_STYLE[state]}]{state.value}[/]"


def _when(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z") if moment else "-"


def status_table(status: JobStatus) -> Table:
    """One job's status as a two-column table."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    reason = escape(status.failure_reason) if status.failure_reason else None
    rows: list[tuple[str, str | None]] = [
        ("id", str(status.id)),
        ("type", status.job_type),
        ("state", f"{state_text(status.state)} ({escape(status.prefect_state)})"),
        ("progress", f"{status.progress:.0f}%"),
        ("failure", f"[red]{reason}[/]" if reason else None),
        ("attempts", str(status.attempts)),
        ("recoveries", escape("; ".join(status.recoveries)) if status.recoveries else None),
        ("priority", str(status.priority) if status.priority is not None else None),
        ("lane", status.lane.value),
        ("tags", escape(", ".join(status.tags)) if status.tags else None),
        ("key", escape(status.idempotency_key) if status.idempotency_key else None),
        ("created", _when(status.created_at)),
        ("scheduled", _when(status.scheduled_at)),
        ("started", _when(status.started_at)),
        ("finished", _when(status.finished_at)),
        ("params", escape(json.dumps(status.params, ensure_ascii=False))),
        ("ui", status.ui_url),
    ]
    for name, value in rows:
        if value is not None:
            table.add_row(name, value)
    return table


def final_line(status: JobStatus) -> str:
    """How a followed job ended, in one line."""
    ended = f"{status.job_type} job {status.id} {state_text(status.state)}"
    attempts = f"after {status.attempts} attempt{'' if status.attempts == 1 else 's'}"
    if status.state is JobState.COMPLETED:
        return f"{ended} {attempts}"
    reason = f": {escape(status.failure_reason)}" if status.failure_reason else ""
    return f"{ended} {attempts}{reason}"


def stats_table(rows: Iterable[QueueStats], title: str | None = None) -> Table:
    """Counts by state, one row per job type, with a total row when there are several."""
    rows = list(rows)
    table = Table(title=title, title_justify="left")
    table.add_column("job type")
    for name in (*COUNTS, "total"):
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(row.job_type, *(f"{getattr(row, name):,}" for name in (*COUNTS, "total")))
    if len(rows) > 1:
        total = stats_total(rows)
        table.add_section()
        table.add_row("all", *(f"{getattr(total, name):,}" for name in (*COUNTS, "total")))
    return table


def stats_total(rows: Iterable[QueueStats]) -> QueueStats:
    rows = list(rows)
    return QueueStats(
        job_type="all", **{name: sum(getattr(r, name) for r in rows) for name in COUNTS}
    )


def _schedule(job: RecurringJob) -> str:
    if job.cron:
        return f"cron {job.cron}" + (f" ({job.timezone})" if job.timezone else "")
    if job.interval_seconds:
        return f"every {job.interval_seconds:g} s"
    return "-"


def recurring_table(jobs: Iterable[RecurringJob]) -> Table:
    table = Table()
    for name in ("name", "schedule", "next run", "active", "deployment"):
        table.add_column(name)
    for job in jobs:
        active = "[green]yes[/]" if job.active else "[yellow]paused[/]"
        table.add_row(job.name, _schedule(job), _when(job.next_run_at), active, job.deployment)
    return table


def keys_table(keys: Iterable[KeyInfo]) -> Table:
    table = Table()
    for name in ("name", "prefix", "scopes", "created", "last used", "revoked"):
        table.add_column(name)
    for key in keys:
        revoked = f"[red]{_when(key.revoked_at)}[/]" if key.revoked_at else "-"
        scopes = ", ".join(scope.value for scope in key.scopes)
        table.add_row(
            escape(key.name), key.prefix + "...", scopes, _when(key.created_at),
            _when(key.last_used_at), revoked,
        )  # fmt: skip
    return table


def dead_letters_table(statuses: Iterable[JobStatus]) -> Table:
    table = Table()
    for name in ("id", "type", "finished", "attempts", "failure"):
        table.add_column(name, overflow="fold")
    for status in statuses:
        reason = escape(status.failure_reason or "")
        table.add_row(
            str(status.id), status.job_type, _when(status.finished_at), str(status.attempts), reason
        )
    return table
