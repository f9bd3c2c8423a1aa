"""The built wheel is the product: installed into a fresh virtualenv, away from this checkout,
its command line starts (``python -m jobs`` and the ``jobs`` script), its migrations and email
templates are there, and the packages the command line imports (deployments/ included) come
with it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".tools" / "bin" / "uv"


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(arg) for arg in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_the_wheel_installs_and_its_command_line_works(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOBS_", "PREFECT_"))}
    env |= {"UV_PYTHON_DOWNLOADS": "never", "VIRTUAL_ENV": "", "JOBS_HOME": str(tmp_path / "home")}
    run(UV, "build", "--wheel", "-q", "-o", tmp_path / "dist", ROOT, cwd=ROOT, env=env)
    [wheel] = (tmp_path / "dist").glob("jobs-*.whl")
    venv = tmp_path / "venv"
    run(UV, "venv", "-q", venv, "--python", sys.executable, cwd=tmp_path, env=env)
    python = venv / "bin" / "python"
    run(UV, "pip", "install", "-q", "--python", python, wheel, cwd=tmp_path, env=env)
    away = tmp_path / "elsewhere"  # not this checkout: only the installed packages are found
    away.mkdir()

    usage = run(python, "-m", "jobs", "--help", cwd=away, env=env)
    script = run(venv / "bin" / "jobs", "submit", "--help", cwd=away, env=env)
    migrated = run(python, "-m", "jobs", "migrate", cwd=away, env=env)
    probe = (
        "import deployments.pool, deployments.automations, jobs, jobs.email.render as r; "
        "print(jobs.__file__); print(sorted(r.template_names()))"
    )
    found = run(python, "-c", probe, cwd=away, env=env)

    assert "setup" in usage and "worker" in usage
    assert "Usage: jobs submit" in script  # the console script
    assert "Running upgrade" in migrated and (tmp_path / "home" / "app.db").exists()
    assert str(venv) in found.splitlines()[0]
    assert "welcome" in found
