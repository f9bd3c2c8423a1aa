"""The README's "Adding a job type", followed in a copy of this repository: the catalogue's
unit tests pass there, and the new job type runs end to end on the session's server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound

from jobs import services
from jobs.aio import run_sync
from tests.support.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
SKIP = shutil.ignore_patterns(".git", ".venv", ".tools", ".jobs", "__pycache__", ".*_cache")


def steps() -> list[str]:
    """The Python blocks of the README's "Adding a job type" section, dedented."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Adding a job type", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^( *)```python\n(.*?)^\1```", section, flags=re.DOTALL | re.M)
    return [textwrap.dedent(body) for _, body in blocks]


def follow_the_readme(copy: Path) -> None:
    *files, entry = steps()
    for block in files:  # each starts with a comment naming its file
        path = copy / block.splitlines()[0].removeprefix("# ").strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()
        path.write_text(block)
    registry = copy / "jobs" / "registry.py"
    text = registry.read_text()
    text = text.replace(
        "\n\nURGENT, NORMAL, LOW", "\nfrom jobs.echo.params import Echo\n\nURGENT, NORMAL, LOW"
    )
    end = "    )\n}  # fmt: skip"
    assert end in text
    registry.write_text(text.replace(end, textwrap.indent(entry, " " * 8) + end))
    package = copy / "jobs" / "__init__.py"
    anchor = "from jobs.data.params import"
    text = package.read_text()
    assert anchor in text
    text = text.replace(anchor, "from jobs.echo.params import Echo\n" + anchor, 1)
    package.write_text(text.replace('    "ExportTable",\n', '    "Echo",\n    "ExportTable",\n'))


def run(copy: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=copy, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def copy(tmp_path: Path, stack: Stack) -> Iterator[Path]:
    copy = tmp_path / "repo"
    shutil.copytree(ROOT, copy, ignore=SKIP)
    stack.stop_worker()
    try:
        yield copy
    finally:
        run_sync(_forget_echo())
        stack.start_worker(limit=1)


async def _forget_echo() -> None:
    """The copy is deleted: its deployment goes too."""
    async with get_client() as prefect:
        with suppress(ObjectNotFound):
            deployment = await prefect.read_deployment_by_name("echo/echo")
            await prefect.delete_deployment(deployment.id)


def test_a_job_type_added_as_the_readme_says_runs_end_to_end(copy: Path, stack: Stack) -> None:
    follow_the_readme(copy)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOBS_", "PREFECT_"))}
    env.update(services.settings_env(stack.settings))
    env["PYTHONPATH"] = str(copy)

    run(copy, env, "-m", "jobs", "deployments")
    assert "flows/echo.py:echo" in (copy / "prefect.yaml").read_text()
    run(copy, env, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit/test_catalogue.py")
    prefect = services.prefect_env(stack.settings) | {"PYTHONPATH": str(copy)}
    deploy = [*services.prefect_cli("--no-prompt", "deploy", "--name", "echo")]
    subprocess.run(deploy, cwd=copy, env=prefect, check=True, stdout=subprocess.DEVNULL)
    worker = subprocess.Popen(
        [sys.executable, "-m", "jobs", "worker", "--name", "echo-worker", "--limit", "1"],
        cwd=copy,
        env=env,
        stdout=(stack.settings.home / "logs" / "echo-worker.log").open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        submit = "import jobs; c = jobs.Client(); s = c.wait(c.submit(jobs.Echo(text='hi')), 120)"
        out = run(copy, env, "-c", submit + "; print(s.state.value, s.job_type)")
    finally:
        services.stop([worker])

    assert out.split() == ["completed", "echo"]
