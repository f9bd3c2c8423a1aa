"""The README's example runs as written, against the real stack."""

from __future__ import annotations

import re
from pathlib import Path

from jobs.client import Client
from tests.support.smtp import Recorder

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks() -> list[str]:
    """The README's top-level Python examples (not the indented steps of a list)."""
    return re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.DOTALL | re.M)


def test_readme_example_runs(client: Client, smtp: Recorder) -> None:
    [example] = python_blocks()
    namespace: dict[str, object] = {}

    exec(compile(example, str(README), "exec"), namespace)

    status = namespace["status"]
    assert status.state.value == "completed"
    assert len(smtp.to("ada@example.com")) == 1
    assert namespace["client"].status(namespace["reminder"]).state.value == "cancelled"
