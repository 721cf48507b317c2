"""Kept judge replies end to end: `rubricate grade --keep-replies` against the loopback judge,
a re-run from the cache, `rubricate score`, and the report (header, sample view, hostile text
drawn inert in a real Chromium)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rubricate.cli import app
from rubricate.report import build_report, load_run, write_report
from rubricate.results import SampleResult
from rubricate.runs import read_results
from tests.report.runs import N_SAMPLES, dataset, grade_run, strict_judge
from tests.report.test_report import embedded
from tests.support.judge_server import JudgeServer

runner = CliRunner()

HOSTILE = (
    '{"verdict": "met"}</script><script>window.pwned = 1</script>'
    '<img src=x onerror="window.pwned = 2"><b>bold</b>'
)


def facts(page: str) -> str:
    start = page.index('id="header-facts"')
    return page[start : page.index("</table>", start)]


def test_grade_keeps_the_replies_and_the_report_shows_them(tmp_path: Path) -> None:
    run, _ = grade_run(tmp_path, "kept", strict_judge, "--keep-replies")
    lines = [line for _, line in read_results(run / "results.jsonl")]
    assert len(lines) == N_SAMPLES
    for line in lines:
        assert line.raw_replies is not None
        for record in line.verdicts:
            reply = line.reply_for(record.raw_reply)
            assert reply is not None and reply.text is not None
            if record.verdict == "error":  # the ungradable sample: the last reply, re-asked twice
                assert json.loads(reply.text) == {"verdict": "maybe"} and reply.reasks == 2
            else:
                assert json.loads(reply.text) == {"verdict": record.verdict}
    summary = json.loads((run / "summary.json").read_text())
    assert summary["replies"] == {"kept": 4 * N_SAMPLES, "missing": {}}
    page = build_report([load_run(run)])
    assert "judge replies" in facts(page) and "kept: 48 verdicts" in facts(page)
    shown = embedded(page)["samples"][0]
    assert [r[0] for r in shown["r"]] == [r.text for r in lines[0].raw_replies or ()]
    assert [v[8] for v in shown["v"]] == [r.raw_reply for r in lines[0].verdicts]

    plain, _ = grade_run(tmp_path, "plain", strict_judge)
    assert "raw_repl" not in (plain / "results.jsonl").read_text()
    assert "replies" not in json.loads((plain / "summary.json").read_text())
    page = build_report([load_run(plain)])
    assert "not kept (grade with --keep-replies" in facts(page)
    assert all("r" not in s and len(s["v"][0]) == 8 for s in embedded(page)["samples"])


def test_a_rerun_from_the_cache_and_score_keep_the_replies(tmp_path: Path) -> None:
    data = dataset(tmp_path / "data.jsonl")
    cache = tmp_path / "c.sqlite"

    def grade(out: str, server: JudgeServer) -> Path:
        done = runner.invoke(
            app,
            [
                "grade",
                str(data),
                "--judge-url",
                server.url,
                "--judge-model",
                "m",
                "--out",
                str(tmp_path / out),
                "--cache",
                str(cache),
                "--keep-replies",
                "--quiet",
            ],
        )
        assert done.exit_code == 0, done.output
        return tmp_path / out

    with JudgeServer(decide=lambda _i, _t, _m: "met") as server:
        first = grade("first", server)
        assert server.requests == 4 * N_SAMPLES
    with JudgeServer(decide=lambda _i, _t, _m: "not_met") as server:
        second = grade("second", server)
        assert server.requests == 0
    assert (second / "results.jsonl").read_bytes() == (first / "results.jsonl").read_bytes()
    summary = json.loads((second / "summary.json").read_text())
    assert summary["counts"]["judge_calls"] == 0
    assert summary["replies"] == {"kept": 4 * N_SAMPLES, "missing": {}}
    (second / "summary.json").unlink()
    scored = runner.invoke(app, ["score", str(second / "results.jsonl"), "--quiet"])
    assert scored.exit_code == 0, scored.output
    rescored = json.loads((second / "summary.json").read_text())
    assert rescored["replies"] == {"kept": 4 * N_SAMPLES, "missing": {}}


def test_a_bad_reply_field_in_a_results_file_exits_2_naming_it(tmp_path: Path) -> None:
    run, _ = grade_run(tmp_path, "kept", strict_judge, "--keep-replies")
    lines = (run / "results.jsonl").read_text().splitlines()
    line = json.loads(lines[2])
    line["verdicts"][1]["raw_reply"] = "first"
    lines[2] = json.dumps(line)
    (run / "results.jsonl").write_text("\n".join(lines) + "\n")
    for command in (["score", str(run / "results.jsonl")], ["report", str(run)]):
        done = runner.invoke(app, [*command, "-o", str(tmp_path / "out")])
        said = done.output.replace("\n", "")  # the console wraps long paths
        assert done.exit_code == 2, said
        assert "Traceback" not in said and "error (invalid_input)" in said
        assert "results.jsonl:3" in said and "field 'verdicts.1.raw_reply'" in said


def hostile_run(directory: Path) -> Path:
    record = SampleResult.model_validate(
        {
            "sample_id": "s1",
            "rubric_fingerprint": "f",
            "score": 1.0,
            "verdicts": [
                {
                    "criterion_id": "c1",
                    "criterion": "Is kind",
                    "points": 5.0,
                    "verdict": "met",
                    "raw_reply": 0,
                },
                {
                    "criterion_id": "c2",
                    "criterion": "Is brief",
                    "points": 2.0,
                    "verdict": "met",
                    "raw_reply": 1,
                },
            ],
            "raw_replies": [
                {"text": HOSTILE, "reasks": 1},
                {"text": None, "reasks": 0, "missing": "not_cached"},
            ],
        }
    )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "results.jsonl").write_text(record.model_dump_json() + "\n")
    return directory


def test_hostile_reply_text_stays_data_in_the_page(tmp_path: Path) -> None:
    page = build_report([load_run(hostile_run(tmp_path / "run"))])
    assert "<script>window.pwned" not in page and "<img src=x" not in page
    assert embedded(page)["samples"][0]["r"][0] == [HOSTILE, 1, None]
    assert "judge replies</th><td>kept</td>" in facts(page)  # no summary: known from the lines


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_hostile_reply_renders_inert_in_chromium(tmp_path: Path) -> None:
    from tests.report.test_browser import chromium_path

    playwright_api = pytest.importorskip("playwright.sync_api")
    report = write_report([hostile_run(tmp_path / "run")], tmp_path / "report.html")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.route(
                "**/*",
                lambda route: (
                    route.continue_() if route.request.url == report.as_uri() else route.abort()
                ),
            )
            page.goto(report.as_uri())
            page.wait_for_selector("body[data-ready='1']", timeout=15_000)
            page.click("#sample-rows tbody tr")
            replies = page.locator("#criteria-detail details.raw-reply")
            assert replies.count() == 1
            assert not replies.first.evaluate("d => d.open")  # collapsed until asked for
            assert "after 1 re-ask" in replies.first.locator("summary").inner_text()
            replies.first.locator("summary").click()
            assert replies.first.locator("pre").text_content() == HOSTILE
            detail = page.locator("#detail")
            assert detail.locator("img, script, b").count() == 0
            assert "reply not available: not_cached" in detail.inner_text()
            assert page.evaluate("() => window.pwned") is None and not dialogs
        finally:
            browser.close()
