"""``rubricate grade --evidence ... --constrain ...`` end to end over the loopback judge."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from rubricate.cli import app
from tests.helpers import healthbench_line, write_jsonl
from tests.report.runs import grade_run, strict_judge
from tests.report.test_evidence import quoting as quotes
from tests.support.judge_server import JudgeServer

runner = CliRunner()
RESPONSE = "Take 5 mg twice a day; see a doctor if it gets worse."


def quoting(body: dict[str, Any]) -> str:
    """Quotes the response for the dose, invents a quote for the doctor, none for the rest."""
    last = body["messages"][-1]["content"]
    quote = ["take 5 mg twice a day"] if "Gives the dose" in last else []
    if "Suggests a doctor" in last:
        quote = ["See a specialist immediately."]
    assert body["response_format"]["type"] == "json_schema"
    return json.dumps({"evidence": quote, "verdict": "met"})


def test_grade_with_strict_evidence_writes_quotes_and_counts(tmp_path) -> None:
    data = write_jsonl(
        tmp_path / "data.jsonl",
        [
            healthbench_line(
                "p1",
                [("Gives the dose", 5, []), ("Suggests a doctor", 5, []), ("A pitfall", -5, [])],
                response=RESPONSE,
            )
        ],
    )
    args = [
        "grade", str(data), "--judge-url", "", "--judge-model", "stub",
        "--out", str(tmp_path / "run"), "--no-cache", "--quiet",
        "--evidence", "strict", "--constrain", "json_schema",
    ]  # fmt: skip
    with JudgeServer(respond=quoting) as server:
        args[3] = server.url
        result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    line = json.loads((tmp_path / "run" / "results.jsonl").read_text())
    verdicts = {v["criterion"]: v for v in line["verdicts"]}
    assert verdicts["Gives the dose"]["evidence"] == [
        {"quote": "take 5 mg twice a day", "found": True}
    ]
    assert verdicts["Suggests a doctor"]["verdict"] == "not_met"
    assert verdicts["Suggests a doctor"]["judged"] == "met"
    assert verdicts["A pitfall"]["verdict"] == "met"  # a met pitfall stays met
    assert line["score"] == 0.0  # (5 - 5) / 10
    counts = json.loads((tmp_path / "run" / "summary.json").read_text())["counts"]
    assert (counts["evidence_verified"], counts["evidence_unverified"]) == (1, 1)
    assert counts["evidence_missing"] == 1


def test_an_unknown_evidence_mode_is_a_located_error(tmp_path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", [healthbench_line("p1", [("x", 1, [])], "r")])
    result = runner.invoke(
        app, ["grade", str(data), "--judge-url", "http://127.0.0.1:9/v1", "--judge-model", "m",
              "--out", str(tmp_path / "run"), "--evidence", "maybe"],
    )  # fmt: skip
    assert result.exit_code != 0
    assert "evidence" in result.output and "Traceback" not in result.output


def test_score_recounts_the_evidence_of_a_strict_run_from_its_results(tmp_path) -> None:
    """A run graded with --evidence strict, its summary deleted: `rubricate score` recomputes
    the same summary from results.jsonl, evidence counts included."""
    run, _ = grade_run(tmp_path, "quoted", strict_judge, "--evidence", "strict", respond=quotes)
    graded = json.loads((run / "summary.json").read_text())
    evidence = ("evidence_verified", "evidence_unverified", "evidence_missing")
    assert [graded["counts"][key] for key in evidence] == [16, 6, 1]
    (run / "summary.json").unlink()
    rescored = runner.invoke(
        app, ["score", str(run / "results.jsonl"), "--max-error-rate", "1", "--quiet"]
    )
    assert rescored.exit_code == 0, rescored.output
    again = json.loads((run / "summary.json").read_text())
    assert [again["counts"][key] for key in evidence] == [16, 6, 1]
    # What the judge's calls cost is not on the lines (nor how long they took); the rest is.
    calls = ("judge_calls", "unparseable_replies", "reasked")
    assert all(graded["counts"][key] for key in calls)
    for summary in (graded, again):
        del summary["elapsed_s"], summary["tokens"]
        for key in calls:
            del summary["counts"][key]
    assert again == graded
