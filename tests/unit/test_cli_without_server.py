"""The command line without a server: what starts fast, what it refuses, how it ends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.cli.exits import ExitCode

ROOT = Path(__file__).resolve().parents[2]
JOBS = Path(sys.executable).parent / "jobs"  # the console script


def jobs(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JOBS_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [str(JOBS), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_help_loads_neither_prefect_nor_the_orm() -> None:
    probe = (
        "import sys; from jobs.cli import run; code = run(['--help']); "
        "print(code, sorted({m.split('.')[0] for m in sys.modules} & {'prefect', 'sqlalchemy'}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "0 []"


def test_help_lists_every_command(tmp_path: Path) -> None:
    done = jobs("--help", home=tmp_path)

    assert done.returncode == 0
    for command in (
        "submit", "status", "watch", "bulk", "retry", "cancel", "stats", "recurring", "keys",
        "up", "cluster", "worker", "recovery", "relay", "smtp", "webhooks", "setup", "migrate",
        "deployments",
    ):  # fmt: skip
        assert f" {command} " in done.stdout, command


def test_the_worker_keeps_its_options(tmp_path: Path) -> None:
    done = jobs("worker", "--help", home=tmp_path)

    assert done.returncode == 0
    assert "--name" in done.stdout and "--limit" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("submit", "nope"), "job_type: expected one of api_call, "),
        (("submit", "ping", "--param", "seconds"), "param: expected key=value, got str 'seconds'"),
        (
            ("submit", "ping", "--param", "seconds=soon"),
            "invalid ping job parameters: seconds: Input should be a valid number",
        ),
        (
            ("submit", "ping", "--priority", "11"),
            "priority: expected an integer from 1 (urgent) to 10 (low), got int 11",
        ),
        (
            ("submit", "ping", "--run-at", "2031-05-17T09:30:00"),
            "run_at: expected a timezone-aware datetime, got naive datetime 2031-05-17T09:30:00",
        ),
        (("submit", "ping", "--bogus"), "No such option: --bogus (see jobs submit --help)"),
        (("submit",), "Missing argument 'TYPE'"),
        (("bulk", "ping", "missing.jsonl"), "file: expected a readable UTF-8 file"),
        (("keys", "create", "ci", "--scopes", "write"), "scopes: expected one or more of"),
    ],
)
def test_bad_input_ends_with_exit_code_2_and_one_line(
    args: tuple[str, ...], message: str, tmp_path: Path
) -> None:
    done = jobs(*args, home=tmp_path)

    assert done.returncode == ExitCode.BAD_INPUT, done.stderr
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("error: ") and message in line


def test_the_keys_need_the_migrated_database(tmp_path: Path) -> None:
    done = jobs("keys", "list", home=tmp_path)

    assert done.returncode == ExitCode.UNAVAILABLE
    [line] = done.stderr.splitlines()
    assert "its tables are made by `jobs migrate`" in line and "no such table: api_keys" in line


def test_the_readme_lists_the_exit_codes() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Command line", 1)[1].split("\n## ", 1)[0]

    for code in ExitCode:
        assert f"| {code.value} |" in section, code
