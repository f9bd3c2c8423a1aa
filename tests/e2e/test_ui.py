"""The Prefect UI as the queue dashboard, read in headless Chromium (Debian's ``chromium``)
against the session's real server and worker: what the pages say, not how they look."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator

import pytest

from jobs.client import Client
from jobs.registry import PRIORITIES, queue_for
from jobs.settings import Settings
from jobs.status import JobState
from screenshots import examples
from screenshots.dashboard import Dashboard, browser_page
from tests.support.runs import names_and_logs
from tests.support.stack import Stack

pytestmark = pytest.mark.skipif(
    shutil.which("chromium") is None, reason="chromium is not installed (make browser-deps)"
)


@pytest.fixture(scope="module")
def dashboard(stack: Stack) -> Iterator[Dashboard]:
    with browser_page() as page:
        yield Dashboard(page, stack.settings.ui_url)


@pytest.fixture(scope="module")
def finished(client: Client) -> examples.Examples:
    """The examples of ``make screenshots``: thumbnails of a photo (completes with progress)
    and an image job whose source is missing (fails)."""
    return examples.run(client, folder=f"ui-{uuid.uuid4().hex[:8]}")


def test_work_pool_page_lists_the_ten_queues_with_their_priorities(
    dashboard: Dashboard, settings: Settings
) -> None:
    rows = dashboard.work_queues(settings.work_pool)

    shown = {row["Name"]: row for row in rows}
    ours = [queue_for(priority) for priority in PRIORITIES]
    assert [shown[name]["Priority"] for name in ours] == [str(p) for p in PRIORITIES]
    assert [shown[name]["Concurrency Limit"] for name in ours] == [""] * 9 + ["2"]
    assert set(shown) - set(ours) == {"default"}  # Prefect's own, last: no job is sent there
    assert int(shown["default"]["Priority"]) > PRIORITIES[-1]


def test_completed_job_page_shows_its_progress_artifact_and_logs(
    dashboard: Dashboard, finished: examples.Examples
) -> None:
    status = finished.completed
    assert status.state is JobState.COMPLETED, status.failure_reason
    name, _, logs = names_and_logs(status.id, "Wrote")  # as the server has them

    assert dashboard.run_state(status.ui_url) == "Completed"
    assert dashboard.runs([status.ui_url]) == [name]
    shown = dashboard.run_logs(status.ui_url, containing="Wrote")
    written = [line for line in logs if line.startswith("Wrote ")]
    assert len(written) == 3  # one line per thumbnail size
    for line in written:
        assert any(line in row for row in shown), (line, shown)

    cards = dashboard.run_artifacts(status.ui_url)
    progress = [card for card in cards if card.type == "progress"]
    assert len(progress) == 1
    outputs = ", ".join(line.removeprefix("Wrote ").split(" (")[0] for line in written)
    assert progress[0].description == f"Wrote {outputs}"
    assert dashboard.open_artifact("progress") == "Progress: 100%"


def test_failed_job_page_shows_its_failure_reason(
    dashboard: Dashboard, finished: examples.Examples
) -> None:
    status = finished.failed
    assert status.state is JobState.FAILED
    assert status.failure_reason is not None
    source = status.params["source"]

    assert dashboard.run_state(status.ui_url) == "Failed"
    reason = dashboard.run_details(status.ui_url)["State Message"]
    assert f"'{source}' does not exist in the storage root" in reason
    assert status.failure_reason in reason
