"""The README's Datasets commands run through the CLI against a loopback judge, with the summary
checked against each benchmark's own formula; --format, --field criterion.*, --length-penalty."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from rubricate.cli import app
from rubricate.formats import CRITERION_FIELDS, FORMATS
from tests.formats.test_native_grading import _first_line, _healthbench_score, _pick, _records
from tests.helpers import write_jsonl
from tests.support.judge_server import JudgeServer

runner = CliRunner()
DATA = Path(__file__).resolve().parents[1] / "data"
_CRITERION = re.compile(r'<criterion id="([^"]+)"[^>]*>\n(.*?)\n</criterion>', re.DOTALL)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("RUBRICATE_"):
            monkeypatch.delenv(name)


def answering(answer: Callable[[str], dict[str, Any]]) -> Callable[[dict[str, Any]], str]:
    """A loopback judge reply: ``answer(first line of the criterion)`` as JSON, one per call."""

    def respond(body: dict[str, Any]) -> str:
        asking = [m["content"] for m in body["messages"] if "<criterion" in m["content"]]
        ((_, text),) = _CRITERION.findall(asking[-1])
        return json.dumps(answer(_first_line(text)))

    return respond


def grade(server: JudgeServer, tmp_path: Path, command: str, *extra: str) -> dict[str, Any]:
    """Run a README command line (``rubricate grade ...``) and return its summary.json."""
    args = command.split()[1:]
    assert args[0] == "grade"
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        [*args, "--judge-url", server.url, "--judge-model", "stub", "--out", str(out),
         "--cache", str(tmp_path / "c.sqlite"), "-q", *extra],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text("utf-8"))
    assert summary["counts"]["errors"] == 0 and summary["n_scored"] == summary["n_samples"]
    return summary


def responses_file(tmp_path: Path, key: str, ids: list[Any]) -> Path:
    return write_jsonl(
        tmp_path / "answers.jsonl", [{key: i, "response": f"Report for {i}."} for i in ids]
    )


def clipped_mean(values: list[float]) -> float:
    return float(np.clip(np.mean(values), 0, 1))


def flat(text: str) -> str:
    """Console output without whitespace: rich wraps long lines wherever it likes."""
    return re.sub(r"\s+", "", text)


def test_format_accepts_every_reader_and_nothing_else(tmp_path: Path) -> None:
    missing = str(tmp_path / "none.jsonl")
    for name in FORMATS:  # each passes option parsing and reaches the reader
        result = runner.invoke(app, ["grade", missing, "--format", name, "-q"])
        assert result.exit_code == 2 and "filenotfound" in flat(result.output), name
    bogus = runner.invoke(app, ["grade", missing, "--format", "csv", "-q"])
    assert bogus.exit_code == 2 and "filenotfound" not in flat(bogus.output)
    assert "'csv'" in bogus.output


def test_healthbench_ideal_completions(tmp_path: Path) -> None:
    path = DATA / "healthbench" / "healthbench_sample.jsonl"

    def met(text: str) -> bool:
        return _pick(text, 3) != 0

    with JudgeServer(respond=answering(lambda t: {"criteria_met": met(t)})) as server:
        summary = grade(server, tmp_path, f"rubricate grade {path} --response-source ideal")
    expected = []
    for record in _records(path):
        flags = [met(_first_line(i["criterion"])) for i in record["rubrics"]]
        expected.append(_healthbench_score(record["rubrics"], flags))
    assert summary["score"] == pytest.approx(clipped_mean(expected))
    assert "native" not in summary  # HealthBench's own score is the score itself


def test_score_recomputes_the_grading_summary_from_results_alone(tmp_path: Path) -> None:
    path = DATA / "healthbench" / "healthbench_sample.jsonl"

    def met(text: str) -> bool:
        return _pick(text, 3) != 0

    command = f"rubricate grade {path} --response-source ideal"
    with JudgeServer(respond=answering(lambda t: {"criteria_met": met(t)})) as server:
        graded = grade(server, tmp_path, command, "--length-penalty", "0.02")
    assert graded["themes"] and graded["clusters"] and graded["length_adjusted"]
    assert set(graded["themes"]["theme:health_data_tasks"]) == {
        "score", "bootstrap_std", "ci95", "n_samples"
    }  # fmt: skip
    results = tmp_path / "run" / "results.jsonl"
    out = tmp_path / "again.json"
    scored = runner.invoke(app, ["score", str(results), "-o", str(out), "--length-penalty", "0.02"])
    assert scored.exit_code == 0, scored.output
    again = json.loads(out.read_text("utf-8"))
    for key in ("score", "ci95", "axes", "themes", "clusters", "length_adjusted"):
        assert again[key] == graded[key], key
    for key in ("criteria", "errors", "cannot_assess", "gate_failed"):  # calls were not made
        assert again["counts"][key] == graded["counts"][key], key
    output = flat(scored.output)
    assert flat("theme:health_data_tasks:") in output and flat("length-adjusted score") in output


def test_score_recomputes_drb2_native_figures_after_hand_edited_verdicts(tmp_path: Path) -> None:
    path = DATA / "drb2" / "tasks_and_rubrics_sample.jsonl"
    records = _records(path)
    reports = responses_file(tmp_path, "idx", [r["idx"] for r in records])
    command = f"rubricate grade {path} --format drb2 --responses {reports}"
    with JudgeServer(respond=answering(lambda t: {"score": 0, "reason": "."})) as server:
        graded = grade(server, tmp_path, command)
    assert graded["native"]["score"] == 0.0 and graded["native"]["parts"]["blocked_rate"] == 0.0
    results = tmp_path / "run" / "results.jsonl"
    lines = [json.loads(line) for line in results.read_text("utf-8").splitlines()]
    # A reviewer overrules the judge on the first task: every item met but the first, blocked.
    first = lines[0]["verdicts"]
    for record in first:
        record["verdict"] = "met"
    first[0]["verdict"] = "blocked"
    results.write_text("".join(json.dumps(line) + "\n" for line in lines), "utf-8")
    scored = runner.invoke(app, ["score", str(results), "-q"])
    assert scored.exit_code == 0, scored.output
    native = json.loads((tmp_path / "run" / "summary.json").read_text("utf-8"))["native"]
    n_tasks, n_items = len(lines), len(first)
    assert native["n_scored"] == n_tasks
    assert native["score"] == pytest.approx((n_items - 1) / n_items / n_tasks)
    assert native["parts"]["blocked_rate"] == pytest.approx(1 / n_items / n_tasks)


def test_verl_parquet_with_mapped_ids(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rubric = [("Mentions mass", 4), ("Names Newton", 3), ("Is rude", -2), ("Is short", 1)]
    rows = [
        {
            "prompt": [{"role": "user", "content": f"Explain gravity ({i})."}],
            "reward_model": {
                "style": "rubric",
                "rubrics": json.dumps([{"criterion": c, "points": p} for c, p in rubric]),
            },
            "extra_info": {"index": 10 + i},
            "response": f"Answer {i}",
        }
        for i in range(3)
    ]
    path = tmp_path / "train.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)

    def met(text: str) -> bool:
        return _pick(text, 2) == 1

    with JudgeServer(respond=answering(lambda t: {"verdict": "met" if met(t) else "not_met"})) as s:
        summary = grade(s, tmp_path, f"rubricate grade {path} --field id=extra_info.index")
    items = [{"points": p} for _, p in rubric]
    one = _healthbench_score(items, [met(c) for c, _ in rubric])
    assert one is not None and summary["score"] == pytest.approx(clipped_mean([one] * 3))
    lines = (tmp_path / "run" / "results.jsonl").read_text("utf-8").splitlines()
    assert [json.loads(line)["sample_id"] for line in lines] == ["10", "11", "12"]


@pytest.mark.parametrize(
    "name",
    [
        "writingbench_sample.jsonl",  # synthetic, with ``lang``
        "writingbench_real.jsonl",  # three published WritingBench queries (see its README)
    ],
)
def test_writingbench_native_score_is_the_mean_over_all_criteria(tmp_path: Path, name: str) -> None:
    path = DATA / "writingbench" / name
    records = _records(path)
    answers = responses_file(tmp_path, "index", [r["index"] for r in records])

    def score(name: str) -> int:
        return 1 + _pick(name, 10)

    command = f"rubricate grade {path} --format writingbench --responses {answers}"
    with JudgeServer(respond=answering(lambda t: {"score": score(t.split(": ")[0])})) as server:
        summary = grade(server, tmp_path, command)
    per_query = [[score(item["name"]) for item in r["checklist"]] for r in records]
    everything = [s for scores in per_query for s in scores]
    assert summary["native"]["scheme"] == "writingbench"
    assert summary["native"]["score"] == pytest.approx(sum(everything) / len(everything))
    assert summary["score"] == pytest.approx(
        clipped_mean([float(np.mean([(s - 1) / 9 for s in q])) for q in per_query])
    )


def test_drb2_recall_per_dimension_and_blocked_rate(tmp_path: Path) -> None:
    path = DATA / "drb2" / "tasks_and_rubrics_sample.jsonl"
    records = _records(path)
    reports = responses_file(tmp_path, "idx", [r["idx"] for r in records])

    def score(item: str) -> int:
        return (1, 0, -1)[_pick(item, 3)]

    command = f"rubricate grade {path} --format drb2 --responses {reports}"
    with JudgeServer(respond=answering(lambda t: {"score": score(t), "reason": "."})) as server:
        summary = grade(server, tmp_path, command)
    totals, blocked, dims = [], [], {}
    for record in records:
        # DRB-II keys a task's items by their text: a repeated item counts once.
        rubric = {d: list(dict.fromkeys(items)) for d, items in record["content"]["rubric"].items()}
        values = [score(item) for items in rubric.values() for item in items]
        totals.append(values.count(1) / len(values))
        blocked.append(values.count(-1) / len(values))
        for dim, out in (("info_recall", "inforecall"), ("analysis", "analysis")):
            scores = [score(item) for item in rubric[dim]]
            dims.setdefault(out, []).append(scores.count(1) / len(scores))
    native = summary["native"]
    assert native["score"] == pytest.approx(np.mean(totals))
    assert native["parts"]["total"] == pytest.approx(np.mean(totals))
    assert native["parts"]["blocked_rate"] == pytest.approx(np.mean(blocked))
    for key, values in dims.items():
        assert native["parts"][key] == pytest.approx(np.mean(values))
    assert summary["score"] == pytest.approx(clipped_mean(totals))  # blocked counts 0


def test_prbench_normalized_and_clipped_points(tmp_path: Path) -> None:
    path = DATA / "prbench" / "prbench_sample.jsonl"
    records = _records(path)
    answers = responses_file(tmp_path, "task", [r["task"] for r in records])

    def met(title: str) -> bool:
        return _pick(title, 2) == 1

    command = f"rubricate grade {path} --format prbench --responses {answers}"
    with JudgeServer(respond=answering(lambda t: {"criteria_met": met(t)})) as server:
        summary = grade(server, tmp_path, command)
    normalized, clipped = [], []
    for record in records:
        weights = [
            i["annotations"][i["annotations"]["weight_class"].replace(" ", "_") + "_weight"]
            for i in record["rubric"]
        ]
        points = sum(w for w, i in zip(weights, record["rubric"], strict=True) if met(i["title"]))
        low, high = sum(w for w in weights if w < 0), sum(w for w in weights if w > 0)
        normalized.append((points - low) / (high - low))
        clipped.append(points / high)
    assert summary["native"]["score"] == pytest.approx(np.mean(normalized))
    assert summary["native"]["parts"]["clipped"] == pytest.approx(np.mean(clipped))
    assert summary["score"] == pytest.approx(clipped_mean(clipped))


def test_prbench_task_given_twice_exits_2_before_any_judge_call_or_is_skipped(
    tmp_path: Path,
) -> None:
    first, second = (DATA / "prbench" / "prbench_sample.jsonl").read_text("utf-8").splitlines()
    path = write_jsonl(tmp_path / "twice.jsonl", [first, second, first])
    answers = responses_file(tmp_path, "task", [r["task"] for r in _records(path)[:2]])
    out = tmp_path / "run"
    args = ["grade", str(path), "--format", "prbench", "--responses", str(answers),
            "--out", str(out), "--cache", str(tmp_path / "c.sqlite"), "-q"]  # fmt: skip
    with JudgeServer(respond=answering(lambda t: {"criteria_met": True})) as server:
        result = runner.invoke(app, [*args, "--judge-url", server.url, "--judge-model", "stub"])
        assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
        assert "Traceback" not in result.output
        assert flat(
            f"{path}:3, field 'task': sample id 'prb-legal-001' appears twice (lines 1 and 3)"
        ) in flat(result.output)
        assert server.requests == 0 and not (out / "summary.json").exists()
        skipped = runner.invoke(
            app, [*args, "--judge-url", server.url, "--judge-model", "stub", "--on-invalid", "skip"]
        )
        assert skipped.exit_code == 0, skipped.output
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert summary["n_samples"] == 2 and summary["counts"]["skipped_lines"] == 1
    assert any("appears twice (lines 1 and 3)" in reason for reason in summary["skipped"])
    lines = (out / "results.jsonl").read_text("utf-8").splitlines()
    assert sorted(json.loads(line)["sample_id"] for line in lines) == [
        "prb-fin-002",
        "prb-legal-001",
    ]


def test_researchrubrics_compliance(tmp_path: Path) -> None:
    path = DATA / "researchrubrics" / "researchrubrics_sample.jsonl"
    records = _records(path)
    reports = responses_file(tmp_path, "sample_id", [r["sample_id"] for r in records])

    def satisfied(text: str) -> bool:
        return _pick(text, 2) == 0

    command = f"rubricate grade {path} --format researchrubrics --responses {reports}"
    verdict = {True: "Satisfied", False: "Not Satisfied"}
    with JudgeServer(respond=answering(lambda t: {"verdict": verdict[satisfied(t)]})) as server:
        summary = grade(server, tmp_path, command)
    compliance = []
    for record in records:
        rubrics = record["rubrics"]
        achieved = sum(r["weight"] for r in rubrics if satisfied(r["criterion"]))
        compliance.append(achieved / sum(r["weight"] for r in rubrics if r["weight"] > 0))
    assert summary["native"]["score"] == pytest.approx(np.mean(compliance))
    assert summary["score"] == pytest.approx(clipped_mean(compliance))


def test_researchqa_coverage(tmp_path: Path) -> None:
    path = DATA / "researchqa" / "researchqa_sample.json"
    records = json.loads(path.read_text("utf-8"))
    answers = responses_file(tmp_path, "id", [r["id"] for r in records])

    def rating(item: str) -> int:
        return 1 + _pick(item, 5)

    command = f"rubricate grade {path} --format researchqa --responses {answers}"
    with JudgeServer(respond=answering(lambda t: {"score": rating(t)})) as server:
        summary = grade(server, tmp_path, command)
    coverage = [
        float(np.mean([(rating(r["rubric_item"]) - 1) / 4 for r in record["rubric"]]))
        for record in records
    ]
    assert summary["native"]["score"] == pytest.approx(np.mean(coverage))
    assert summary["score"] == pytest.approx(clipped_mean(coverage))


def test_generic_jsonl_with_criterion_sub_fields(tmp_path: Path) -> None:
    checklist = [
        {"name": "Cites a source", "weight": 3, "labels": ["axis:accuracy"]},
        {"name": "Stays under 100 words", "weight": 1, "labels": ["axis:style"]},
        {"name": "Invents a statistic", "weight": -2, "labels": ["axis:accuracy"]},
    ]
    path = write_jsonl(
        tmp_path / "data.jsonl",
        [{"prompt": f"Question {i}", "response": f"Answer {i}", "checklist": checklist}
         for i in range(2)],
    )  # fmt: skip

    def met(text: str) -> bool:
        return text != "Invents a statistic"

    command = (
        f"rubricate grade {path} --field rubric=checklist --field criterion.text=name "
        "--field criterion.points=weight --field criterion.tags=labels"
    )
    with JudgeServer(respond=answering(lambda t: {"verdict": "met" if met(t) else "not_met"})) as s:
        summary = grade(s, tmp_path, command)
    items = [{"points": c["weight"]} for c in checklist]
    assert summary["score"] == pytest.approx(
        _healthbench_score(items, [met(c["name"]) for c in checklist])
    )
    assert set(summary["axes"]) == {"accuracy", "style"}
    line = json.loads((tmp_path / "run" / "results.jsonl").read_text("utf-8").splitlines()[0])
    assert [(v["criterion"], v["points"]) for v in line["verdicts"]] == [
        (c["name"], c["weight"]) for c in checklist
    ]


@pytest.mark.parametrize(
    ("field", "named"),
    [
        ("criterion.colour=c", "unknown criterion sub-field 'colour'"),
        ("criteria=c", "unknown target 'criteria'"),
        ("rubric", "expected TARGET=PATH"),
    ],
)
def test_bad_field_mapping_exits_2_naming_it(tmp_path: Path, field: str, named: str) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"prompt": "q", "rubric": ["A"], "response": "r"}])
    result = runner.invoke(app, ["grade", str(path), "--field", field, "-q"])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    output = flat(result.output)
    assert flat(f"--field '{field}'") in output and flat(named) in output
    if field.startswith("criterion."):
        assert all(f"criterion.{name}" in output for name in CRITERION_FIELDS)


def _length_adjusted(scores: list[float], lengths: list[int], penalty: float) -> float:
    return clipped_mean(
        [s - penalty * (n - 2000) / 500 for s, n in zip(scores, lengths, strict=True)]
    )


def test_length_penalty_in_grade_and_score(tmp_path: Path) -> None:
    checklist = ["Gives the dose", "Mentions a doctor"]
    texts = ["x" * 1500, "y" * 2600, "z" * 4100]
    path = write_jsonl(
        tmp_path / "data.jsonl",
        [{"id": f"s{i}", "prompt": "q", "rubric": checklist} for i in range(3)],
    )
    answers = write_jsonl(
        tmp_path / "answers.jsonl", [{"id": f"s{i}", "response": t} for i, t in enumerate(texts)]
    )
    decide = {"s0": "met", "s1": "not_met"}

    def respond(body: dict[str, Any]) -> str:
        asking = json.dumps(body)
        graded = "x" if "xxxx" in asking else "y" if "yyyy" in asking else "z"
        return json.dumps({"verdict": decide.get({"x": "s0", "y": "s1"}.get(graded, ""), "met")})

    with JudgeServer(respond=respond) as server:
        summary = grade(
            server, tmp_path, f"rubricate grade {path} --responses {answers}",
            "--length-penalty", "0.05",
        )  # fmt: skip
    scores = [1.0, 0.0, 1.0]
    expected = _length_adjusted(scores, [len(t) for t in texts], 0.05)
    assert summary["score"] == pytest.approx(np.mean(scores))
    assert summary["length_adjusted"]["penalty"] == 0.05
    assert summary["length_adjusted"]["score"] == pytest.approx(expected)

    results = tmp_path / "run" / "results.jsonl"
    lines = [json.loads(line) for line in results.read_text("utf-8").splitlines()]
    assert [line["metadata"]["response_chars"] for line in lines] == [len(t) for t in texts]
    # results.jsonl alone is enough: the lengths were recorded when graded
    out = tmp_path / "rescored.json"
    scored = runner.invoke(
        app, ["score", str(results), "-o", str(out), "-q", "--length-penalty", "0.1"]
    )
    assert scored.exit_code == 0, scored.output
    assert scored.output.strip() == ""  # quiet: no table, no file line
    rescored = json.loads(out.read_text("utf-8"))["length_adjusted"]
    assert rescored["score"] == pytest.approx(_length_adjusted(scores, [1500, 2600, 4100], 0.1))
    again = runner.invoke(app, ["score", str(results), "-o", str(out), "--length-penalty", "0.05"])
    assert again.exit_code == 0, again.output
    assert json.loads(out.read_text("utf-8"))["length_adjusted"] == summary["length_adjusted"]

    # A line without its length (written before lengths were recorded) needs --responses.
    del lines[0]["metadata"]["response_chars"]
    old = tmp_path / "old.jsonl"
    old.write_text("".join(json.dumps(line) + "\n" for line in lines), "utf-8")
    missing = runner.invoke(app, ["score", str(old), "-o", str(out), "--length-penalty", "0.1"])
    assert missing.exit_code == 2 and isinstance(missing.exception, SystemExit)
    assert flat(f"{old}:1, field 'metadata.response_chars'") in flat(missing.output)
    filled = tmp_path / "filled.jsonl"
    given = runner.invoke(
        app,
        ["score", str(old), "-o", str(out), "-q", "--length-penalty", "0.1",
         "--responses", str(answers), "--write-results", str(filled)],
    )  # fmt: skip
    assert given.exit_code == 0, given.output
    assert json.loads(out.read_text("utf-8"))["length_adjusted"] == rescored
    first = json.loads(filled.read_text("utf-8").splitlines()[0])
    assert first["metadata"]["response_chars"] == 1500

    lines[0]["metadata"]["response_chars"] = 1500
    lines[1]["metadata"]["response_chars"] = "2600"  # edited by hand into a string
    old.write_text("".join(json.dumps(line) + "\n" for line in lines), "utf-8")
    bad = runner.invoke(app, ["score", str(old), "-o", str(out), "--length-penalty", "0.1"])
    assert bad.exit_code == 2 and isinstance(bad.exception, SystemExit)
    assert flat(f"{old}:2, field 'metadata.response_chars'") in flat(bad.output)


def test_length_penalty_counts_responses_a_policy_wrote(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "d.jsonl",
        [{"id": f"s{i}", "prompt": f"Question {i}", "rubric": ["Answers it"]} for i in range(2)],
    )
    written = {"Question 0": "a" * 3000, "Question 1": "b" * 1000}

    def policy_reply(body: dict[str, Any]) -> str:
        return written[body["messages"][-1]["content"]]

    with JudgeServer() as judge, JudgeServer(respond=policy_reply) as policy:
        summary = grade(
            judge, tmp_path, f"rubricate grade {path}",
            "--policy-url", policy.url, "--policy-model", "pol", "--length-penalty", "0.1",
        )  # fmt: skip
    lines = [json.loads(x) for x in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert [x["metadata"]["response_chars"] for x in lines] == [3000, 1000]
    expected = _length_adjusted([x["score"] for x in lines], [3000, 1000], 0.1)
    assert summary["length_adjusted"]["score"] == pytest.approx(expected)
    assert summary["length_adjusted"]["n_scored"] == 2


def test_length_penalty_is_a_setting_with_its_variable(tmp_path: Path) -> None:
    bad = runner.invoke(app, ["grade", str(tmp_path / "none.jsonl"), "--length-penalty", "-1"])
    assert bad.exit_code == 2 and "judge.length_penalty" in bad.output
    os.environ["RUBRICATE_LENGTH_PENALTY"] = "0.25"
    try:
        shown = runner.invoke(app, ["config", "show"])
    finally:
        del os.environ["RUBRICATE_LENGTH_PENALTY"]
    assert shown.exit_code == 0
    assert any(
        "length_penalty = 0.25" in line and "RUBRICATE_LENGTH_PENALTY" in line
        for line in shown.output.splitlines()
    )


def test_score_quiet_prints_nothing_on_success(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"prompt": "q", "rubric": ["A"], "response": "r"}])
    with JudgeServer() as server:
        grade(server, tmp_path, f"rubricate grade {path}")
    results = tmp_path / "run" / "results.jsonl"
    loud = runner.invoke(app, ["score", str(results)])
    quiet = runner.invoke(app, ["score", str(results), "--quiet"])
    assert loud.exit_code == quiet.exit_code == 0
    assert "score (healthbench)" in loud.output and quiet.output.strip() == ""
