"""The report's figures against the scoring core and the data, and its commands."""

from __future__ import annotations

import base64
import gzip
import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rubricate.cli import app
from rubricate.report import (
    build_report,
    calibration_bins,
    check_labels,
    compare_runs,
    criterion_rows,
    group_rows,
    load_run,
    sample_tag_scores,
    write_report,
)
from rubricate.results import SampleResult
from rubricate.runs import read_results
from tests.report.runs import N_SAMPLES, THEMES, UNGRADABLE, grade_run
from tests.support.judge_server import JudgeServer

runner = CliRunner()


def odd(sample_id: str) -> bool:
    return sample_id != UNGRADABLE and int(sample_id[1:]) % 2 == 1


def test_scores_match_summary_and_the_data(runs) -> None:
    first, _, _ = runs
    run = load_run(first)
    summary = json.loads((first / "summary.json").read_text())
    (overall,) = group_rows({"overall": [r.score for r in run.results]})
    assert overall.n == summary["n_scored"] == N_SAMPLES - 1
    assert overall.mean == pytest.approx(summary["score"])
    assert overall.ci95 == pytest.approx(tuple(summary["ci95"]))
    page = build_report([run])
    assert f"[{summary['ci95'][0]:.3f}, {summary['ci95'][1]:.3f}]" in page
    tags: dict[str, list[float]] = {}
    for result in run.results:
        for tag, value in sample_tag_scores(result).items():
            tags.setdefault(tag, []).append(value)
    # A theme's score is its samples' overall score (HealthBench's example-level tags).
    for theme in THEMES:
        own = [
            r.score
            for r in run.results
            if theme in r.metadata["example_tags"] and r.score is not None
        ]
        (row,) = group_rows({theme: tags[theme]})
        assert row.n == len(own) and row.mean == pytest.approx(np.clip(np.mean(own), 0, 1))
    # cluster:safety holds the doctor criterion (+4) and the aspirin pitfall (never met):
    # 1 for the odd answers (they say to consult a physician), 0 for the even ones.
    (safety,) = group_rows({"cluster:safety": tags["cluster:safety"]})
    assert safety.n == 11 and safety.mean == pytest.approx(5 / 11)
    assert "cluster:safety" in page and "theme:hedging" in page


def test_criterion_table_is_the_rubric_authors_view(runs) -> None:
    first, _, _ = runs
    rows = {row.text: row for row in criterion_rows(load_run(first).results)}
    doctor = rows["Tells when to see a doctor"]
    assert (doctor.n, doctor.errors, doctor.cannot_assess) == (12, 1, 0)
    assert doctor.met_rate == pytest.approx(5 / 11)
    assert doctor.variance == pytest.approx(5 / 11 * 6 / 11)
    # The doctor criterion is the run's gate: it decides the score, so they correlate strongly.
    assert doctor.corr is not None and doctor.corr > 0.9
    aspirin = rows["Recommends aspirin for a child"]
    assert aspirin.pitfall and aspirin.met_rate == 0 and aspirin.variance == 0
    assert aspirin.corr is None  # a constant criterion cannot separate responses
    assert not doctor.pitfall and doctor.points == (4.0,)


def test_reliability_bins_cover_every_probability(runs) -> None:
    first, _, _ = runs
    results = [r for _, r in read_results(first / "results.jsonl")]
    bins = calibration_bins(results)
    with_p = [
        v for r in results for v in r.verdicts
        if v.probability is not None and v.verdict in ("met", "not_met")
    ]  # fmt: skip
    assert with_p and sum(b["n"] for b in bins) == len(with_p)
    met = sum(1 for v in with_p if v.verdict == "met")
    assert sum(b["met_rate"] * b["n"] for b in bins) == pytest.approx(met)
    assert 'data-plot="reliability"' in build_report([load_run(first)])


def test_comparison_pairs_samples_and_finds_flips(runs) -> None:
    first, second, _ = runs
    a = {r.sample_id: r for r in load_run(first).results}
    b = {r.sample_id: r for r in load_run(second).results}
    comparison = compare_runs(a, b)
    diffs = [
        b[k].score - a[k].score for k in a if a[k].score is not None and b[k].score is not None
    ]
    assert comparison.n_paired == len(diffs) == 11
    assert comparison.overall.value == pytest.approx(np.mean(diffs))
    low, high = comparison.overall.ci95
    assert low <= np.mean(diffs) <= high
    assert (comparison.wins, comparison.ties, comparison.losses) == (
        sum(d > 0 for d in diffs), sum(d == 0 for d in diffs), sum(d < 0 for d in diffs)
    )  # fmt: skip
    flips = {f.text: f for f in comparison.flips}
    # The lenient judge meets the doctor criterion on the six even answers the strict one failed.
    assert (
        flips["Tells when to see a doctor"].flipped,
        flips["Tells when to see a doctor"].to_met,
    ) == (6, 6)
    assert flips["Tells when to see a doctor"].compared == 11
    assert "Recommends aspirin for a child" not in flips
    n, completeness = comparison.groups["axis:completeness"]
    assert n == 11 and completeness.value == pytest.approx(6 / 11)


def embedded(page: str) -> dict:
    """The sample data a page carries (gzip + base64 JSON, as the page's script reads it)."""
    match = re.search(
        r'<script id="sample-data" type="application/octet-stream">([^<]*)</script>', page
    )
    assert match is not None
    return json.loads(gzip.decompress(base64.b64decode(match.group(1))))


def test_grade_report_and_report_command(runs, tmp_path: Path) -> None:
    first, second, output = runs
    assert (second / "report.html").is_file() and "report.html" in output
    # grade --report had the data at hand: conversations and responses are in the page.
    shown = {s["id"]: s for s in embedded((second / "report.html").read_text())["samples"]}
    assert shown["s03"]["messages"] == [
        {"role": "user", "content": "My child has a fever of 38 C. What now?"}
    ]
    assert shown["s03"]["response"] == "Answer 3: give 15 mg/kg paracetamol and consult a physician"
    assert [v[2] for v in shown[UNGRADABLE]["v"]] == ["error"] * 4
    prices = tmp_path / "prices.json"
    prices.write_text(
        json.dumps({"judge-a": {"prompt": 1.5, "completion": 6.0}, "*": {"prompt": 0}})
    )
    out = tmp_path / "out" / "compare.html"
    done = runner.invoke(
        app, ["report", str(first), str(second), "-o", str(out), "--prices", str(prices)]
    )
    assert done.exit_code == 0, done.output
    page = out.read_text(encoding="utf-8")
    tokens = json.loads((first / "summary.json").read_text())["tokens"]
    cost = (tokens["prompt"] * 1.5 + tokens["completion"] * 6.0) / 1e6
    assert f"${cost:,.4f}" in page
    assert "judge-a" in page and "per_criterion" in page
    assert "Comparison: b − a" in page and 'data-plot="scatter"' in page
    # Nothing in the page points outside it.
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", page)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"prompt": "cheap"}))
    refused = runner.invoke(
        app, ["report", str(first), "-o", str(tmp_path / "x.html"), "--prices", str(bad)]
    )
    assert refused.exit_code == 2 and "prompt" in refused.output
    missing = runner.invoke(
        app, ["report", str(tmp_path / "nothing"), "-o", str(tmp_path / "y.html")]
    )
    assert missing.exit_code == 2 and "results.jsonl" in missing.output


def test_probe_and_pairwise_pages_appear_with_their_files(runs, tmp_path: Path) -> None:
    first, _, _ = runs
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "results.jsonl").write_bytes((first / "results.jsonl").read_bytes())
    assert "id='probes'" not in build_report([load_run(run_dir)])
    with JudgeServer() as server:
        done = runner.invoke(
            app,
            [
                "probe",
                str(first.parent / "data.jsonl"),
                "--judge-url",
                server.url,
                "--judge-model",
                "stub",
                "--out",
                str(run_dir),
                "--probes",
                "master_key,verbosity",
                "--cache",
                str(tmp_path / "p.sqlite"),
                "--resamples",
                "200",
                "--json",
            ],
        )
    assert done.exit_code == 0, done.output
    pairs = [
        {"pair_id": "p1", "source": "math", "label": "A>B", "judgments": [{"decision": "A>B"}, {"decision": "B>A"}]},
        {"pair_id": "p2", "source": "code", "label": "B>A", "judgments": [{"decision": "A>B"}, {"decision": "A>B"}]},
    ]  # fmt: skip
    (run_dir / "pairs.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pairs))
    run = load_run(run_dir)
    page = build_report([run])
    probes = json.loads((run_dir / "probes.json").read_text())
    assert run.probes == probes
    assert "id='probes'" in page and "master_key" in page and "verbosity" in page
    gain = probes["master_key"]["gain"]
    assert f'<td class="num">{gain:.3f}</td>' in page
    assert "id='pairwise'" in page and run.pairwise is not None
    assert run.pairwise.overall.accuracy == 0.5 and run.pairwise.overall.consistency == 0.5
    # Trials as shown: A>B, B>A, A>B, A>B: three of four chose the first response.
    assert "<b id='first-position'>0.750</b> of 4" in page


def test_write_report_replaces_the_file_whole(runs, tmp_path: Path) -> None:
    first, _, _ = runs
    out = write_report([first], tmp_path / "r.html")
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert not list(tmp_path.glob("*.partial"))


def test_labels_page_agrees_with_meta_eval(runs, tmp_path: Path) -> None:
    first, _, _ = runs
    labels = tmp_path / "labels.jsonl"
    lines = []
    for i in range(N_SAMPLES):
        sample = UNGRADABLE if i == 11 else f"s{i:02d}"
        # The doctor label says what the answer did (the strict judge agrees); the weight
        # label says met where the judge said not met.
        lines.append(
            {"sample_id": sample, "criterion": "Tells when to see a doctor", "label": odd(sample)}
        )
        lines.append({"sample_id": sample, "criterion": "asks the child's  WEIGHT", "label": True})
    labels.write_text("".join(json.dumps(x) + "\n" for x in lines))
    run = load_run(first, labels)
    check = check_labels({r.sample_id: r for r in run.results}, run.labels or [])
    assert check.confusion == {"met_met": 5, "met_not": 0, "not_met": 11, "not_not": 6}
    accuracy = check.report.overall.metrics["accuracy"].value
    assert accuracy == pytest.approx((5 + 6) / 22) and check.report.overall.n_labels == 22
    assert sum(b["n"] for b in check.reliability) == 22
    out = tmp_path / "labelled.html"
    done = runner.invoke(app, ["report", str(first), "-o", str(out), "--labels", str(labels)])
    assert done.exit_code == 0, done.output
    page = out.read_text(encoding="utf-8")
    assert "id='meta-eval'" in page and "Reliability of P(met) against labels" in page
    assert "<td class='num'>0.500 [" in page  # accuracy with its interval


def test_a_run_the_judge_never_answered_still_reports(tmp_path: Path) -> None:
    run, _ = grade_run(tmp_path, "down", lambda _i, _t, _m: "maybe", exit_code=3)
    page = build_report([load_run(run)])
    assert "0 / 12" in page  # samples scored / in file
    assert all(v[2] == "error" for s in embedded(page)["samples"] for v in s["v"])
    rows = {row.text: row for row in criterion_rows(load_run(run).results)}
    assert rows["Tells when to see a doctor"].errors == 12
    assert rows["Tells when to see a doctor"].met_rate is None


def test_text_from_the_data_cannot_become_markup(tmp_path: Path) -> None:
    hostile = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"
    record = SampleResult.model_validate(
        {
            "sample_id": hostile,
            "rubric_fingerprint": "f",
            "score": 0.5,
            "verdicts": [
                {
                    "criterion_id": "c1",
                    "criterion": hostile,
                    "points": 5.0,
                    "tags": [f"axis:{hostile}"],
                    "verdict": "met",
                    "explanation": hostile,
                }
            ],
            "metadata": {"example_tags": [f"theme:{hostile}"]},
        }
    )
    (tmp_path / "results.jsonl").write_text(record.model_dump_json() + "\n")
    page = build_report([load_run(tmp_path)])
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in page
    assert embedded(page)["samples"][0]["id"] == hostile  # kept as data, escaped when drawn
