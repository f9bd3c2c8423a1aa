"""The import layers point one way (pyproject.toml's import-linter contract), and `import jobs`
stays light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_layer_contract_is_kept() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 1 kept, 0 broken." in done.stdout


def test_import_jobs_loads_neither_the_orm_nor_the_flows() -> None:
    probe = (
        "import sys, jobs; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'flows') "
        "or m.startswith('jobs.db')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
