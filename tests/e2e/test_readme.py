"""The README's example runs as written, against the real stack."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jobs.client import Client
from jobs.status import JobState, Lane
from tests.support.smtp import Recorder

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks() -> list[str]:
    """The README's top-level Python examples (not the indented steps of a list)."""
    return re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.DOTALL | re.M)


def test_readme_example_runs(client: Client, smtp: Recorder) -> None:
    example, _lanes = python_blocks()
    namespace: dict[str, object] = {}

    exec(compile(example, str(README), "exec"), namespace)

    status = namespace["status"]
    assert status.state.value == "completed"
    assert len(smtp.to("ada@example.com")) == 1
    assert namespace["client"].status(namespace["reminder"]).state.value == "cancelled"


def test_readme_lanes_example_runs(client: Client, smtp: Recorder) -> None:
    _example, lanes = python_blocks()
    namespace: dict[str, Any] = {}

    exec(compile(lanes, str(README), "exec"), namespace)

    client = namespace["client"]
    assert client.wait(namespace["batched"]).lane is Lane.BATCH
    assert client.wait(namespace["single"]).lane is Lane.FLOW
    assert len({job.id for job in namespace["digest"]}) == 1
    assert client.wait(namespace["receipt"]).state is JobState.COMPLETED
    assert all(client.wait(job).state is JobState.COMPLETED for job in namespace["pings"])
    subjects = sorted(message["Subject"] for message in smtp.to("grace@example.com"))
    assert subjects == ["3 new comments", "Hello", "Hello again", "Your receipt"]
