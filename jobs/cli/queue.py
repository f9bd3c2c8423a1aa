"""Commands on jobs: submit, status, watch, bulk, retry, cancel, stats.

Prefect and the client are imported inside the commands, so ``jobs --help`` stays fast.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from jobs.cli import inputs
from jobs.cli.exits import ExitCode
from jobs.cli.follow import watch as follow_job
from jobs.cli.output import Output, final_line, stats_table, stats_total, status_table
from jobs.cli.shared import JOBS_PANEL, JsonFlag, fail, output, settings
from jobs.errors import InvalidJobParams, JobsError
from jobs.status import JobState, JobStatus, QueueStats

if TYPE_CHECKING:
    from jobs.client import Client

commands = typer.Typer()

JobId = Annotated[
    str, typer.Argument(metavar="ID", help="The job's id (a UUID).", show_default=False)
]
Priority = Annotated[
    int | None,
    typer.Option(help="1 (urgent) to 10 (low); 5 when not given.", show_default=False),
]
Delay = Annotated[
    str | None,
    typer.Option(help="Run after this long: seconds, or 90s, 10m, 2h, 1d.", show_default=False),
]
RunAt = Annotated[
    str | None,
    typer.Option(
        "--run-at", help="Run at this ISO 8601 time, with its timezone.", show_default=False
    ),
]
Tags = Annotated[
    list[str] | None,
    typer.Option("--tag", help="A tag for the job; give it again for more.", show_default=False),
]
LaneOption = Annotated[
    str | None,
    typer.Option(help="flow or batch; the job type's own lane when not given.", show_default=False),
]
Poll = Annotated[float, typer.Option(min=0.1, help="Seconds between two reads of the job.")]
Timeout = Annotated[
    float | None,
    typer.Option(
        min=0,
        help="Give up (exit code 6) if the job has not finished by then (seconds).",
        show_default=False,
    ),
]


def client() -> Client:
    """A client of the configured server (Prefect is imported here, not at start-up)."""
    from jobs.client import Client

    return Client(settings())


def _options(
    priority: int | None,
    delay: str | None,
    run_at: str | None,
    tags: list[str] | None,
    lane: str | None,
) -> dict[str, Any]:
    options: dict[str, Any] = {
        "delay": inputs.seconds_of(delay, "delay"),
        "run_at": inputs.time_of(run_at, "run_at"),
        "tags": tags or [],
        "lane": lane,
    }
    if priority is not None:
        options["priority"] = priority
    return options


def _watched(out: Output, job_id: str, poll: float, timeout: float | None) -> JobStatus:
    """Follow the job to its end (see :mod:`jobs.cli.follow`); exit code 6 after ``timeout``."""

    async def run() -> JobStatus:
        async with asyncio.timeout(timeout):
            return await follow_job(client(), job_id, out, poll)

    try:
        return asyncio.run(run())
    except TimeoutError:
        if timeout is None:
            raise
        fail(f"job {job_id} had not finished after {timeout:g} s", ExitCode.TIMED_OUT)


def _ended(out: Output, status: JobStatus) -> None:
    """Say how the job ended; exit code 1 unless it completed."""
    if not out.json:
        out.line(final_line(status))
    if status.state is not JobState.COMPLETED:
        raise typer.Exit(int(ExitCode.JOB_FAILED))


@commands.command(rich_help_panel=JOBS_PANEL)
def submit(
    ctx: typer.Context,
    job_type: Annotated[str, typer.Argument(metavar="TYPE", help="The job type, e.g. email.")],
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            metavar="KEY=VALUE",
            help="A parameter; the value is read as JSON when it is JSON (3, true, [1,2], "
            "'\"007\"'), else as text. Give it again for more.",
            show_default=False,
        ),
    ] = None,
    json_file: Annotated[
        str | None,
        typer.Option(
            "--json",
            metavar="FILE",
            help="Read the parameters from a JSON object in FILE (- for standard input); "
            "--param values go over them. For JSON output: jobs --json submit ...",
            show_default=False,
        ),
    ] = None,
    priority: Priority = None,
    delay: Delay = None,
    run_at: RunAt = None,
    key: Annotated[
        str | None,
        typer.Option(
            help="Idempotency key: submitting again with it gives back the same job.",
            show_default=False,
        ),
    ] = None,
    tag: Tags = None,
    lane: LaneOption = None,
    watch: Annotated[bool, typer.Option(help="Then follow it, as jobs watch does.")] = False,
    poll: Poll = 0.5,
    timeout: Timeout = None,
) -> None:
    """Submit one job; prints its id.

    With jobs --json submit ...: {"id": ..., "job_type": ...}.
    """
    out = output(ctx)
    params = inputs.params_of(param or [], json_file)
    options = _options(priority, delay, run_at, tag, lane)
    job = client().submit(job_type, params, idempotency_key=key, **options)
    out.result({"id": str(job.id), "job_type": job.job_type}, str(job.id))
    if watch:
        _ended(out, _watched(out, str(job.id), poll, timeout))


@commands.command(rich_help_panel=JOBS_PANEL)
def status(ctx: typer.Context, job_id: JobId, json_output: JsonFlag = False) -> None:
    """A job's state, progress, failure reason, attempts, times and UI link."""
    out = output(ctx, json_output)
    found = client().status(job_id)
    out.result(found, status_table(found))


@commands.command(rich_help_panel=JOBS_PANEL)
def watch(
    ctx: typer.Context,
    job_id: JobId,
    json_output: JsonFlag = False,
    poll: Poll = 0.5,
    timeout: Timeout = None,
) -> None:
    """Follow a job to its end with a live progress bar.

    Exit code 0 if it completed, 1 if it failed or was cancelled. With --json: one JSON status
    per change, one per line, the last the final one.
    """
    out = output(ctx, json_output)
    _ended(out, _watched(out, job_id, poll, timeout))


@commands.command(rich_help_panel=JOBS_PANEL)
def retry(ctx: typer.Context, job_id: JobId, json_output: JsonFlag = False) -> None:
    """Run a failed, crashed or cancelled job again (same id; its attempts go up)."""
    out = output(ctx, json_output)
    client().retry(job_id)
    _done(out, job_id, "retried")


@commands.command(rich_help_panel=JOBS_PANEL)
def cancel(ctx: typer.Context, job_id: JobId, json_output: JsonFlag = False) -> None:
    """Cancel a job that has not finished."""
    out = output(ctx, json_output)
    client().cancel(job_id)
    _done(out, job_id, "cancelled")


def _done(out: Output, job_id: str, what: str) -> None:
    out.result({"id": job_id, what: True}, f"job {job_id} {what}")


CHUNK = 200
"""Jobs per submit_many call of a bulk submit: one step of its progress bar."""


@commands.command(rich_help_panel=JOBS_PANEL)
def bulk(
    ctx: typer.Context,
    job_type: Annotated[str, typer.Argument(metavar="TYPE", help="The job type of every line.")],
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE.jsonl",
            help='One job per line: its parameters, or {"params": {...}, "idempotency_key": '
            '"..."}; - for standard input.',
        ),
    ],
    priority: Priority = None,
    delay: Delay = None,
    run_at: RunAt = None,
    tag: Tags = None,
    lane: LaneOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Submit many jobs of one type from a JSON-lines file.

    Every line is checked first: one refused line submits nothing. Then a progress bar, and a
    summary.
    """
    from jobs.options import SubmitOptions
    from jobs.registry import job_type as job_type_named

    out = output(ctx, json_output)
    spec = job_type_named(job_type)
    lines = inputs.read_lines(file)
    options = _options(priority, delay, run_at, tag, lane)
    SubmitOptions.checked(**options)
    jobs = client()
    problems = []
    for line in lines:
        try:
            # checked as submit checks one job (model and size), so that no chunk is refused
            jobs._validated(spec.name, [line.params], batch=False)
            if line.idempotency_key is not None:
                SubmitOptions.checked(idempotency_key=line.idempotency_key)
        except InvalidJobParams as exc:
            problems.append(f"line {line.number}: {exc}")
    inputs.refuse_lines(problems, len(lines))

    started = time.monotonic()
    ids: list[str] = []
    bar = Progress(
        TextColumn(f"submitting {spec.name} jobs"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=out.err, disable=out.json or not out.err.is_terminal,
    )  # fmt: skip

    async def submit_all() -> None:
        task = bar.add_task("submit", total=len(lines))
        for chunk in inputs.chunks(lines, CHUNK):
            keys = [line.idempotency_key for line in chunk]
            try:
                submitted = await jobs.submit_many_async(
                    spec.name,
                    [line.params for line in chunk],
                    idempotency_keys=[key for key in keys if key is not None] or None,
                    **options,
                )
            except JobsError as exc:  # a server gone mid-way: say how far it got
                done = f"lines up to {chunk[0].number - 1}" if ids else "none"
                raise type(exc)(
                    f"{len(ids)} of {len(lines)} jobs submitted ({done}), then: {exc}"
                ) from exc
            ids.extend(str(job.id) for job in submitted)
            bar.advance(task, len(chunk))

    with bar:
        asyncio.run(submit_all())
    seconds = time.monotonic() - started
    summary = {"job_type": spec.name, "submitted": len(ids), "distinct": len(set(ids))}
    if out.json:
        out.data({**summary, "seconds": round(seconds, 3), "ids": ids})
        return
    shared = len(ids) - len(set(ids))
    same = f"; {shared:,} lines shared a job with another of the same key" if shared else ""
    rate = f", {len(ids) / seconds:,.0f} jobs/s" if seconds > 0 else ""
    out.line(f"Submitted {len(ids):,} {spec.name} jobs in {seconds:.1f} s{rate}{same}.")
    out.line(f"First {ids[0]}, last {ids[-1]}; follow them with jobs stats {spec.name} --watch.")


async def _all_stats(jobs: Client, names: list[str], out: Output) -> list[QueueStats]:
    """The counts of each job type; types that cannot be counted are named on standard error
    (all of them failing is an error)."""
    limit = asyncio.Semaphore(4)

    async def one(name: str) -> QueueStats:
        async with limit:
            return await jobs.stats_async(name)

    results = await asyncio.gather(*(one(name) for name in names), return_exceptions=True)
    counted = [result for result in results if isinstance(result, QueueStats)]
    failed = [result for result in results if isinstance(result, BaseException)]
    for result in failed:
        if not isinstance(result, JobsError) or not counted:
            raise result
    if failed:
        out.note(f"[yellow]not counted:[/] {'; '.join(str(error) for error in failed)}")
    return counted


@commands.command(rich_help_panel=JOBS_PANEL)
def stats(
    ctx: typer.Context,
    job_type: Annotated[
        str | None,
        typer.Argument(
            metavar="[TYPE]", help="One job type; every one when not given.", show_default=False
        ),
    ] = None,
    watch: Annotated[bool, typer.Option(help="Refresh until Ctrl-C.")] = False,
    interval: Annotated[float, typer.Option(min=0.5, help="Seconds between refreshes.")] = 5.0,
    json_output: JsonFlag = False,
) -> None:
    """How many jobs are in each state, by job type.

    A table; JSON with --json (one line per refresh with --watch).
    """
    from jobs.registry import JOB_TYPES
    from jobs.registry import job_type as job_type_named

    out = output(ctx, json_output)
    names = [job_type_named(job_type).name] if job_type else list(JOB_TYPES)
    jobs = client()

    def shown(rows: list[QueueStats]) -> object:
        if job_type:
            return rows[0]
        return {"total": stats_total(rows), "job_types": rows}

    async def refresh(live: Live | None) -> None:
        while True:
            rows = await _all_stats(jobs, names, out)
            if out.json:
                out.data(shown(rows))
            elif live is not None:
                live.update(stats_table(rows, f"jobs at {time.strftime('%H:%M:%S')}"), refresh=True)
            else:
                out.out.print(stats_table(rows))
            if not watch:
                return
            await asyncio.sleep(interval)

    try:
        if watch and not out.json:
            with Live(console=out.out, auto_refresh=False) as live:
                asyncio.run(refresh(live))
        else:
            asyncio.run(refresh(None))
    except KeyboardInterrupt:
        if not watch:
            raise
