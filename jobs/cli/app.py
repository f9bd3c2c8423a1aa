"""The ``jobs`` command (also ``python -m jobs``): its commands, and how it ends.

Every error ends it with one line on standard error and an exit code a script can rely on
(:class:`jobs.cli.exits.ExitCode`); none shows a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from jobs.cli import admin, queue, system
from jobs.cli.exits import ExitCode, exit_code_of
from jobs.cli.output import Output
from jobs.errors import JobsError

app = typer.Typer(
    name="jobs",
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print JSON on standard output, for every command.")
    ] = False,
) -> None:
    """Background jobs on Prefect: submit and follow jobs, see the queues, run the system.

    Exit codes: 0 done, 1 the job ended failed or cancelled, 2 bad input, 3 not found,
    4 server or database unavailable, 5 refused by the job's state, 6 timed out,
    130 interrupted.
    """
    ctx.obj = {"json": json_output}


app.add_typer(queue.commands)
app.add_typer(admin.commands)
app.add_typer(system.commands)


def _error(message: str, code: int) -> int:
    from rich.markup import escape

    Output(json_output=False).err.print(f"[red]error:[/] {escape(message)}")
    return int(code)


def run(args: Sequence[str] | None = None) -> int:
    """Run the command line on ``args`` (default: the process's); its exit code."""
    args = list(sys.argv[1:] if args is None else args) or ["--help"]
    command = typer.main.get_command(app)
    try:
        code = command.main(args=args, prog_name=_program(), standalone_mode=False)
    except typer.TyperException as exc:  # a usage error (exit code 2), a bad file, ...
        if type(exc).__name__ == "NoArgsIsHelpError":  # a command group alone: its help
            typer.echo(exc.format_message(), err=True)
            return int(ExitCode.BAD_INPUT)
        context = getattr(exc, "ctx", None)
        where = f" (see {context.command_path} --help)" if context is not None else ""
        return _error(f"{exc.format_message()}{where}", exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        return int(ExitCode.INTERRUPTED)
    except JobsError as exc:
        return _error(str(exc), exit_code_of(exc))
    except Exception as exc:  # a bug, said in one line: no traceback for the user to read
        return _error(f"unexpected {type(exc).__name__}: {exc}", ExitCode.INTERNAL)
    return code if isinstance(code, int) else int(ExitCode.OK)


def _program() -> str:
    """``jobs`` as the console script, ``python -m jobs`` as a module."""
    return "python -m jobs" if sys.argv and sys.argv[0].endswith("__main__.py") else "jobs"


def main() -> None:
    """The console script's entry point."""
    sys.exit(run())
