"""The README documents every setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
TABLE_ROWS = [line for line in README.splitlines() if line.startswith("| `JOBS_")]


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_in_the_readme_settings_table(name: str) -> None:
    assert any(f"`JOBS_{name.upper()}`" in row for row in TABLE_ROWS)
