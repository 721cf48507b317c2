"""The report in a real headless Chromium: it loads from disk alone, sorts, filters and opens samples.

Playwright drives Debian's ``chromium`` (scripts/test.sh installs it); every request the page
makes is recorded and any that is not the report file itself is aborted and fails the test.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

from rubricate.formats import read_samples
from rubricate.report import write_report
from tests.report.runs import UNGRADABLE

SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "runs" / "report-test"


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise RuntimeError("chromium is not installed: scripts/test.sh installs Debian's package")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(), args=["--no-sandbox"]
        )
        yield launched
        launched.close()


def rows(page: Page) -> list[str]:
    return page.locator("#sample-rows tbody tr").evaluate_all("rs => rs.map(r => r.dataset.id)")


def scores(page: Page) -> list[float | None]:
    cells = page.locator("#sample-rows tbody tr td:nth-child(2)").all_inner_texts()
    return [None if c == "–" else float(c) for c in cells]


def pixel_spread(page: Page, png: bytes) -> tuple[float, int]:
    """Variance of the screenshot's grey levels and its count of distinct colours, decoded by
    Chromium itself on a blank page (no image library needed)."""
    page.set_content("<canvas id=c></canvas>")
    return tuple(  # type: ignore[return-value]
        page.evaluate(
            """async (data) => {
              const img = new Image();
              img.src = "data:image/png;base64," + data;
              await img.decode();
              const c = document.getElementById("c");
              c.width = img.width; c.height = img.height;
              const ctx = c.getContext("2d");
              ctx.drawImage(img, 0, 0);
              const px = ctx.getImageData(0, 0, c.width, c.height).data;
              let sum = 0, sq = 0, n = 0;
              const colours = new Set();
              for (let i = 0; i < px.length; i += 4) {
                const g = (px[i] + px[i + 1] + px[i + 2]) / 3;
                sum += g; sq += g * g; n++;
                if (i % 64 === 0) colours.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
              }
              return [sq / n - (sum / n) ** 2, colours.size];
            }""",
            base64.b64encode(png).decode("ascii"),
        )
    )


def test_report_in_headless_chromium(runs, browser: Browser, tmp_path: Path) -> None:
    first, second, _ = runs
    data = read_samples(first.parent / "data.jsonl")
    report = write_report([first, second], tmp_path / "report.html", samples=data)
    url = report.as_uri()
    requests: list[str] = []
    blocked: list[str] = []

    def guard(route: Route) -> None:
        requests.append(route.request.url)
        if route.request.url == url:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.route("**/*", guard)
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=15_000)

    # Plots drawn inline: histogram, per-axis/theme/cluster bars with whiskers, reliability, scatter.
    for kind in ("histogram", "bars", "reliability", "scatter"):
        assert page.locator(f"svg[data-plot='{kind}']").count() >= 1, kind
    assert page.locator("svg[data-plot='bars'] .whisker").count() >= 3
    assert page.locator("table.criteria tbody tr").count() == 4

    # The list: all samples, score ascending by default, the ungradable one last.
    assert len(rows(page)) == 12
    listed = scores(page)
    assert listed[-1] is None and rows(page)[-1] == UNGRADABLE
    assert listed[:-1] == sorted(listed[:-1])
    page.select_option("#sort", "score-desc")
    listed = scores(page)
    assert listed[:-1] == sorted(listed[:-1], reverse=True)

    page.check("#gate")
    gated = rows(page)
    assert sorted(gated) == [f"s{i:02d}" for i in range(0, 11, 2)]
    page.uncheck("#gate")
    page.check("#ungradable")
    assert rows(page) == [UNGRADABLE]
    page.uncheck("#ungradable")
    page.fill("#min", "0.5")
    assert all(s is not None and s >= 0.5 for s in scores(page)) and len(rows(page)) == 5
    page.fill("#min", "")
    page.fill("#q", "s07")
    assert rows(page) == ["s07"]
    page.fill("#q", "")
    page.select_option("#axis", "context_awareness")
    page.select_option("#sort", "axis-desc")
    assert len(rows(page)) == 11  # the ungradable sample has no axis score
    assert "11 of 12 samples" in page.inner_text("#shown")

    # Open a sample whose gate failed: failed criteria first, the pitfall marked.
    page.select_option("#axis", "")
    page.fill("#q", "s04")
    page.click("#sample-rows tbody tr")
    detail = page.locator("#detail")
    assert detail.is_visible()
    criteria = page.locator("#criteria-detail tr.criterion-row")
    assert criteria.count() == 4
    first_rows = criteria.evaluate_all("rs => rs.map(r => r.className)")
    assert first_rows[:2] == ["criterion-row bad", "criterion-row bad"]  # doctor and weight unmet
    assert (
        "Tells when to see a doctor"
        in criteria.all_inner_texts()[0] + criteria.all_inner_texts()[1]
    )
    assert detail.locator(".pitfall").count() == 1 and detail.locator(".required").count() == 1
    assert "gate failed: Tells when to see a doctor" in detail.inner_text()
    # A pitfall that was not met helps the score: shown as good news, not in red.
    assert detail.locator("tr:has(.pitfall) td:nth-child(3)").get_attribute("class") == "v-good"
    assert "My child has a fever" in detail.inner_text()  # the conversation, from the data
    assert "Answer 4: give 15 mg/kg paracetamol" in detail.inner_text()  # and the response
    # Graded without --evidence: no evidence column, no filter for it.
    assert page.locator("#criteria-detail th", has_text="evidence").count() == 0
    assert page.locator("#unverified").count() == 0

    # Tables sort when their header is clicked.
    header = page.locator("table.criteria th", has_text="met rate")
    rates = page.locator("table.criteria tbody td:nth-child(4)")
    header.click()  # highest first, then lowest first
    assert [float(r) for r in rates.all_inner_texts()] == [1.0, 0.455, 0.0, 0.0]
    header.click()
    assert [float(r) for r in rates.all_inner_texts()] == [0.0, 0.0, 0.455, 1.0]

    page.fill("#q", "")
    png = page.screenshot(full_page=True)
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    (SCREENSHOT_DIR / "report.png").write_bytes(png)
    assert requests == [url] and not blocked, requests
    assert not errors, errors
    variance, colours = pixel_spread(page, png)
    assert variance > 500 and colours > 20, (variance, colours)
