"""What the commands share: the ``--json`` flag, the settings, and ending with an error."""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.markup import escape

from jobs.cli.exits import ExitCode
from jobs.cli.output import Output
from jobs.settings import Settings, get_settings

JOBS_PANEL = "Jobs"
ADMIN_PANEL = "Administration"
SYSTEM_PANEL = "Running the system"

JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print JSON on standard output instead of text.")
]


def output(ctx: typer.Context, json_output: bool = False) -> Output:
    """The command's output: JSON if its ``--json`` or the one before the command is given."""
    root = ctx.find_root().obj
    return Output(json_output or bool(isinstance(root, dict) and root.get("json")))


def fail(message: str, code: ExitCode) -> NoReturn:
    """End the command with ``code`` after one line on standard error."""
    Output(json_output=False).err.print(f"[red]error:[/] {escape(message)}")
    raise typer.Exit(int(code))


def settings() -> Settings:
    """The ``JOBS_*`` settings; a bad one ends the command with its message (exit code 2)."""
    try:
        return get_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"JOBS_{'.'.join(map(str, error['loc'])).upper()}: {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        fail(f"settings: {problems}", ExitCode.BAD_INPUT)
