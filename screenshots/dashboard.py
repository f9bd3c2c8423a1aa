"""The Prefect UI as the queue dashboard, driven in headless Chromium: each page, as its text.

Used by the UI tests (tests/e2e/test_ui.py), which assert on what the pages say, and by
``make screenshots``, which photographs the same pages once they say it. Each method opens a
page, waits until the part of it that matters is on screen, and returns what it shows.

The browser is Debian's ``chromium`` (``make browser-deps`` installs it), driven by Playwright
through its executable: no browser download.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote

from playwright.sync_api import Locator, Page, ViewportSize, sync_playwright

from jobs.registry import PRIORITIES, queue_for

WAIT_MS = 60_000
"""Longest wait for a page to show what it should: the UI loads its data after the page."""

VIEWPORT = ViewportSize(width=1280, height=720)


@dataclass(frozen=True)
class ArtifactCard:
    """An artifact as a run's Artifacts tab lists it."""

    type: str  # "progress", "table", "markdown", ...
    key: str | None
    description: str


def chromium() -> str:
    """The system's Chromium executable, or RuntimeError saying how to get it."""
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError(
            "chromium not found: `make browser-deps` installs Debian's package (as root), "
            "or `apt-get install chromium`"
        )
    return path


@contextmanager
def browser_page() -> Iterator[Page]:
    """A page of a headless Chromium, closed (with its browser) on exit."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), headless=True)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            context.set_default_timeout(WAIT_MS)
            yield context.new_page()
        finally:
            browser.close()


class Dashboard:
    """The pages of the Prefect UI at ``ui_url`` that show the queues and the jobs."""

    def __init__(self, page: Page, ui_url: str) -> None:
        self.page = page
        self.ui_url = ui_url.rstrip("/")

    def _open(self, path: str) -> None:
        self.page.goto(f"{self.ui_url}{path}")

    def _settled(self) -> None:
        """Let what the page has requested arrive and render (it polls every few seconds)."""
        self.page.wait_for_load_state("networkidle")

    def work_queues(self, pool: str) -> list[dict[str, str]]:
        """The Work Queues tab of ``pool``: one row per queue, each cell under its column's
        heading (``Name``, ``Concurrency Limit``, ``Priority``, ``Status``)."""
        self._open(f"/work-pools/work-pool/{quote(pool)}?tab=Work%20Queues")
        table = self.page.locator("table").filter(has_text="Priority")
        last = queue_for(PRIORITIES[-1])
        table.get_by_role("row").filter(has_text=last).first.wait_for()
        self._settled()
        return _rows(table)

    def runs(self, run_urls: list[str]) -> list[str]:
        """The Runs page, once it lists the runs at ``run_urls``: their names as listed."""
        self._open("/runs")
        links = [self.page.locator(f'a[href$="{self._path(url)}"]').first for url in run_urls]
        for link in links:
            link.wait_for()
        self._settled()
        return [_text(link) for link in links]

    def _path(self, url: str) -> str:
        return url.removeprefix(self.ui_url).split("?")[0]

    def run_state(self, run_url: str) -> str:
        """The state its run page's heading shows (``Completed``, ``Failed``, ...)."""
        self._open(self._path(run_url))
        badge = self.page.locator(".page-heading-flow-run__meta .state-badge").first
        badge.wait_for()
        return _text(badge)

    def _run_tab(self, run_url: str, tab: str) -> Locator:
        """The run page's tab ``tab``, chosen as a user would (tabs shown only for some
        states are not there when the page starts, so ``?tab=`` alone may not select them)."""
        self._open(self._path(run_url))
        self.page.locator(".p-tab-navigation .p-tab").filter(
            has_text=re.compile(f"^{re.escape(tab)}$")
        ).click()
        return self.page.locator(".p-tabs__content[role=tabpanel]")

    def run_logs(self, run_url: str, containing: str) -> list[str]:
        """The Logs tab of a run, once a line contains ``containing``: its lines' messages."""
        rows = self._run_tab(run_url, "Logs").locator(".log-row")
        rows.filter(has_text=containing).first.wait_for()
        self._settled()
        return [_text(row) for row in rows.locator(".log-row__content").all()]

    def run_artifacts(self, run_url: str) -> list[ArtifactCard]:
        """The Artifacts tab of a run: its artifacts' cards, once one is shown."""
        cards = self._run_tab(run_url, "Artifacts").locator(".artifact-card")
        cards.first.wait_for()
        self._settled()
        return [_card(cards.nth(index)) for index in range(cards.count())]

    def open_artifact(self, artifact_type: str) -> str:
        """From a run's Artifacts tab, the page of its first ``artifact_type`` artifact: the
        artifact's data as shown (``Progress: 100%`` for a progress bar)."""
        self.page.locator(".artifact-card").filter(
            has=self.page.locator(".artifact-card__subheader", has_text=artifact_type)
        ).first.click()
        data = self.page.locator(".artifact-data-view")
        data.wait_for()
        self._settled()
        return _text(data)

    def run_details(self, run_url: str) -> dict[str, str]:
        """The Details tab of a run: each field's label and the text of its value
        (``State Message`` holds a failed run's reason)."""
        fields = self._run_tab(run_url, "Details").locator(".p-key-value")
        fields.filter(has_text="State Message").first.wait_for()
        self._settled()
        for more in fields.locator(".p-text-truncate--action-text").all():  # "See More"
            more.click()
        details = {}
        for index in range(fields.count()):
            field = fields.nth(index)
            label = _text(field.locator(".p-key-value__label"))
            value = field.locator(".p-key-value__value")
            details[label] = _text(value, without=".p-text-truncate--action-text")
        return details


def _rows(table: Locator) -> list[dict[str, str]]:
    headings = [_text(cell) for cell in table.locator("thead th").all()]
    return [
        dict(zip(headings, [_text(cell) for cell in row.locator("td").all()], strict=False))
        for row in table.locator("tbody tr").all()
    ]


def _card(card: Locator) -> ArtifactCard:
    title = card.locator(".artifact-card__title")
    return ArtifactCard(
        type=_text(card.locator(".artifact-card__subheader")),
        key=_text(title) if title.count() else None,
        description=_text(card.locator(".artifact-card__description-container")),
    )


def _text(element: Locator, without: str | None = None) -> str:
    """The text of ``element`` in the DOM (as written, not as styled: an upper-cased label
    is still ``progress``), its runs of white space as single spaces; "" if it is not there.
    ``without``: a selector of parts left out (a "See Less" button)."""
    if not element.count():
        return ""
    text: str = element.first.evaluate(
        "(node, without) => { const copy = node.cloneNode(true);"
        " if (without) copy.querySelectorAll(without).forEach(part => part.remove());"
        " return copy.textContent; }",
        without,
    )
    return " ".join(text.split())
