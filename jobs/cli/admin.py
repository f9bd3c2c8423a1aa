"""Commands for operators: dead-letter replay, recurring jobs, the HTTP API's keys."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, TypeVar

import typer

from jobs.cli import inputs
from jobs.cli.exits import ExitCode
from jobs.cli.output import dead_letters_table, keys_table, recurring_table
from jobs.cli.queue import client
from jobs.cli.shared import ADMIN_PANEL, JsonFlag, fail, output, settings

T = TypeVar("T")

commands = typer.Typer()
recurring = typer.Typer(help="Jobs that run on a schedule: list, pause, resume, trigger now.")
keys = typer.Typer(help="Keys of the HTTP API: create (shown once), list, revoke.")
commands.add_typer(recurring, name="recurring", rich_help_panel=ADMIN_PANEL)
commands.add_typer(keys, name="keys", rich_help_panel=ADMIN_PANEL)

Name = Annotated[str, typer.Argument(help="The recurring job's name (jobs recurring list).")]
When = Annotated[
    str | None,
    typer.Option(
        help="An ISO 8601 time with its timezone, or a duration ago: 30m, 2h, 1d.",
        show_default=False,
    ),
]


@commands.command(rich_help_panel=ADMIN_PANEL)
def replay(
    ctx: typer.Context,
    job_type: Annotated[
        str | None, typer.Option("--type", help="Only jobs of this type.", show_default=False)
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(
            help="Only jobs whose failure reason contains this (any case).", show_default=False
        ),
    ] = None,
    since: When = None,
    until: When = None,
    limit: Annotated[int, typer.Option(help="At most this many jobs, newest first.")] = 500,
    yes: Annotated[bool, typer.Option("--yes", help="Replay them (else only list them).")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Dead letters: list failed and crashed jobs, then replay them with --yes.

    Without --yes it is a dry run. A replay runs each job again (same id and key, attempts go
    up); a job no longer failed is skipped, with the reason.
    """
    out = output(ctx, json_output)
    jobs = client()
    found = jobs.dead_letters(
        job_type, reason, inputs.moment_of(since, "since"), inputs.moment_of(until, "until"), limit
    )
    done = jobs.replay([status.id for status in found]) if yes and found else None
    if out.json:
        result: dict[str, object] = {"dry_run": not yes, "jobs": found}
        if yes:
            result |= {
                "replayed": done.replayed if done else [],
                "skipped": done.skipped if done else {},
            }
        out.data(result)
        return
    if not found:
        out.line("No failed job matches.")
        return
    out.out.print(dead_letters_table(found))
    if done is None:
        out.note(f"{len(found)} failed job(s) selected; nothing replayed (a dry run): add --yes")
        return
    out.line(f"Replayed {len(done.replayed)} of {len(found)} job(s).")
    for job_id, why in done.skipped.items():
        out.line(f"Skipped {job_id}: {why}")


@recurring.command("list")
def recurring_list(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """The recurring jobs: schedule, next run, whether active."""
    out = output(ctx, json_output)
    found = client().recurring_jobs()
    out.result(found, recurring_table(found))


@recurring.command("pause")
def recurring_pause(ctx: typer.Context, name: Name, json_output: JsonFlag = False) -> None:
    """Turn a recurring job's schedules off."""
    out = output(ctx, json_output)
    job = client().pause_recurring(name)
    out.result(job, f"{job.name} paused")


@recurring.command("resume")
def recurring_resume(ctx: typer.Context, name: Name, json_output: JsonFlag = False) -> None:
    """Turn a recurring job's schedules on again."""
    out = output(ctx, json_output)
    job = client().resume_recurring(name)
    out.result(job, f"{job.name} resumed")


@recurring.command("trigger")
def recurring_trigger(ctx: typer.Context, name: Name, json_output: JsonFlag = False) -> None:
    """Run a recurring job now, once, besides its schedule; prints the job's id."""
    out = output(ctx, json_output)
    job = client().trigger_recurring(name)
    out.result({"id": str(job.id), "job_type": job.job_type}, str(job.id))


@contextmanager
def _database() -> Iterator[str]:
    """The application database's URL; its errors end the command with exit code 4."""
    from sqlalchemy.exc import SQLAlchemyError

    url = settings().app_database_url
    try:
        yield url
    except SQLAlchemyError as exc:
        hint = ""
        if "no such table" in str(exc) or "does not exist" in str(exc):
            hint = " (its tables are made by `jobs migrate`, which `make up` runs)"
        reason = str(exc).splitlines()[0]
        fail(
            f"the application database {url} could not answer{hint}: {reason}", ExitCode.UNAVAILABLE
        )


def _in_database(call: Callable[[str], T]) -> T:
    with _database() as url:
        return call(url)


@keys.command("create")
def keys_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name for the key, e.g. the service using it.")],
    scopes: Annotated[
        str,
        typer.Option(
            help="Comma-separated: submit (submit jobs), read (status, stats, metrics), admin "
            "(everything, retry, cancel, replay, recurring jobs)."
        ),
    ],
    json_output: JsonFlag = False,
) -> None:
    """Create a key; it is printed once, now (only its digest is kept)."""
    from jobs import apikeys

    out = output(ctx, json_output)
    info, key = _in_database(lambda url: apikeys.create(name, scopes, url))
    if out.json:
        out.data({"key": key, **info.model_dump(mode="json")})
        return
    listed = ", ".join(scope.value for scope in info.scopes)
    out.note(f"API key [bold]{info.name}[/] ({listed}); it is shown only now:")
    out.out.print(key, markup=False)


@keys.command("list")
def keys_list(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Every key, revoked ones included (never the keys themselves)."""
    from jobs import apikeys

    out = output(ctx, json_output)
    found = _in_database(apikeys.list_keys)
    out.result(found, keys_table(found))


@keys.command("revoke")
def keys_revoke(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The key's name.")],
    json_output: JsonFlag = False,
) -> None:
    """Revoke a key: its next request is refused."""
    from jobs import apikeys

    out = output(ctx, json_output)
    info = _in_database(lambda url: apikeys.revoke(name, url))
    out.result(info, f"API key {info.name} ({info.prefix}...) revoked")
