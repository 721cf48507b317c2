"""Evidence in the report: a run graded with `--evidence strict` against a loopback judge that
quotes, the header's counts, the embedded quotes, and the sample view in a real Chromium
(quotes marked verified or not, hostile quotes drawn inert, the "unverified evidence" filter)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from rubricate.formats import read_samples
from rubricate.report import build_report, evidence_counts, load_run, write_report
from rubricate.runs import read_results
from tests.report.runs import N_SAMPLES, UNGRADABLE, grade_run, strict_judge
from tests.report.test_raw_replies import facts
from tests.report.test_report import embedded

HOSTILE = '</script><script>alert(1)</script><img src=x onerror="window.pwned = 1">'
DOSE_QUOTE = "give 15 mg/kg paracetamol"
DOSE_SAID = '"Give 15 mg/kg paracetamol"'  # in the judge's own case and quotation marks
MISSING = "s03"  # the judge meets "Asks the child's weight" there without a quote
EVENS = [f"s{i:02d}" for i in range(0, 11, 2)]  # no physician: the doctor quote is invented


def quoting(body: dict[str, Any]) -> str:
    """Quotes the dose from the response; invents a hostile quote for the doctor when the
    response names none; meets the weight for s03 without a quote; the rest not met."""
    # The whole conversation: a re-ask after a reply without a verdict is a further message.
    message = "\n".join(m["content"] for m in body["messages"])
    if "NOVERDICT" in message:
        return "maybe"
    criterion = re.findall(r'<criterion id="[^"]+"[^>]*>\n(.*?)\n</criterion>', message, re.S)
    assert len(criterion) == 1, message  # one criterion per request (the default mode)
    text = criterion[0]
    verdict, quotes = "not_met", []
    if "paracetamol dose" in text:
        verdict, quotes = "met", [DOSE_SAID, "not in the response at all"]
    elif "doctor" in text:
        physician = "consult a physician" in message
        verdict, quotes = "met", ["consult a physician" if physician else HOSTILE]
    elif "weight" in text and "Answer 3:" in message:
        verdict = "met"
    return json.dumps({"verdict": verdict, "evidence": quotes})


@pytest.fixture(scope="module")
def quoted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run, _ = grade_run(
        tmp_path_factory.mktemp("evidence"),
        "quoted",
        strict_judge,
        "--evidence",
        "strict",
        respond=quoting,
    )
    return run


def by_id(page: str) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in embedded(page)["samples"]}


def test_the_report_carries_each_verdicts_quotes_and_their_state(quoted: Path) -> None:
    lines = {line.sample_id: line for _, line in read_results(quoted / "results.jsonl")}
    counts = json.loads((quoted / "summary.json").read_text())["counts"]
    # 11 doses and 5 physicians quoted from the response; 6 invented doctor quotes; s03's weight.
    assert (counts["evidence_verified"], counts["evidence_unverified"]) == (16, 6)
    assert counts["evidence_missing"] == 1
    recount = evidence_counts(lines.values())
    assert recount is not None
    assert (recount.verified, recount.unverified, recount.missing) == (16, 6, 1)
    assert recount.downgraded == 7

    page = build_report([load_run(quoted)])
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    header = facts(page)
    assert "evidence of met verdicts</th><td>verified 16 / unverified 6 / missing 1; " in header
    assert "7 met downgraded to not_met (--evidence strict)" in header
    data = embedded(page)
    assert data["evidence"] is True
    samples = by_id(page)
    for sample_id, line in lines.items():
        shown = samples[sample_id]["e"]
        assert [e[0] for e in shown] == [
            None if r.evidence is None else [[q.quote, q.found] for q in r.evidence]
            for r in line.verdicts
        ]
        assert [e[1] for e in shown] == [r.judged for r in line.verdicts]
    # s00: the dose quoted (one quote found, one not), the doctor's invented quote unverified
    # and its met downgraded, no quote for the unmet weight and pitfall.
    dose, doctor, weight, aspirin = samples["s00"]["e"]
    assert dose == [[[DOSE_SAID, True], ["not in the response at all", False]], None, "verified"]
    assert doctor == [[[HOSTILE, False]], "met", "unverified"]
    assert weight == [[], None, None] and aspirin == [[], None, None]
    assert samples["s00"]["v"][1][2] == "not_met"
    assert samples[MISSING]["e"][2] == [[], "met", "missing"]
    assert samples[UNGRADABLE]["e"] == [[None, None, None]] * 4  # errors carry no evidence


def test_the_header_counts_from_the_results_without_a_summary(quoted: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "results.jsonl").write_bytes((quoted / "results.jsonl").read_bytes())
    header = facts(build_report([load_run(copy)]))
    assert "verified 16 / unverified 6 / missing 1 (counted from the results" in header

    summary = json.loads((quoted / "summary.json").read_text())
    summary["counts"].update(evidence_verified=0, evidence_unverified=0, evidence_missing=0)
    (copy / "summary.json").write_text(json.dumps(summary))
    header = facts(build_report([load_run(copy)]))
    assert (
        "verified 0 / unverified 0 / missing 0 (summary.json; the results lines count 16 / 6 / 1)"
        in header
    )


def test_a_run_without_evidence_shows_none(runs) -> None:
    first, _, _ = runs
    page = build_report([load_run(first)])
    assert "evidence of met verdicts" not in facts(page)
    data = embedded(page)
    assert data["evidence"] is False and all("e" not in s for s in data["samples"])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_quotes_render_as_text_in_chromium(quoted: Path, tmp_path: Path) -> None:
    from tests.report.test_browser import chromium_path, rows

    playwright_api = pytest.importorskip("playwright.sync_api")
    data = read_samples(quoted.parent / "data.jsonl")
    report = write_report([quoted], tmp_path / "report.html", samples=data)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            dialogs: list[str] = []
            errors: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.route(
                "**/*",
                lambda route: (
                    route.continue_() if route.request.url == report.as_uri() else route.abort()
                ),
            )
            page.goto(report.as_uri())
            page.wait_for_selector("body[data-ready='1']", timeout=15_000)
            assert len(rows(page)) == N_SAMPLES

            # The filter keeps samples with a met lacking a verified quote.
            page.check("#unverified")
            assert sorted(rows(page)) == sorted([*EVENS, MISSING])
            page.uncheck("#unverified")
            page.fill("#q", "onerror")  # quotes are searchable
            assert sorted(rows(page)) == EVENS

            page.fill("#q", "s00")
            page.click("#sample-rows tbody tr")
            detail = page.locator("#detail")
            doctor = page.locator("#criteria-detail tr.criterion-row", has_text="see a doctor")
            assert doctor.get_attribute("class") == "criterion-row bad"  # downgraded: unmet
            assert "(judge: met)" in doctor.locator("td:nth-child(3)").inner_text()
            assert "downgraded: the judge said met" in doctor.locator("td.evidence").inner_text()
            invented = doctor.locator("td.evidence .quote.unverified")
            assert invented.count() == 1
            assert invented.locator("q").text_content() == HOSTILE
            assert invented.locator(".quote-state").inner_text() == "unverified"
            dose = page.locator("#criteria-detail tr.criterion-row", has_text="paracetamol dose")
            states = dose.locator("td.evidence .quote").evaluate_all(
                "qs => qs.map(q => [q.className, q.querySelector('q').textContent])"
            )
            assert states == [
                ["quote verified", DOSE_SAID],
                ["quote unverified", "not in the response at all"],
            ]
            # The verified quote is marked in the response, which stays whole as text.
            response = page.locator("#response-text")
            assert response.locator("mark.evidence-mark").all_inner_texts() == [DOSE_QUOTE]
            assert response.text_content() == "Answer 0: give 15 mg/kg paracetamol"
            assert detail.locator("img, script").count() == 0
            assert detail.locator("td.evidence .no-evidence").count() == 0  # unmet: none asked

            page.fill("#q", MISSING)
            page.click("#sample-rows tbody tr")
            weight = page.locator("#criteria-detail tr.criterion-row", has_text="weight")
            assert weight.locator("td.evidence .no-evidence").inner_text() == "no evidence"
            assert page.evaluate("() => window.pwned") is None and not dialogs and not errors
        finally:
            browser.close()
