"""``rubricate meta-eval`` and ``rubricate drift`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from rubricate.cli import app
from tests.meta.runs import result, verdict, write_jsonl, write_run

runner = CliRunner()
JUDGEBENCH = Path(__file__).resolve().parents[1] / "data" / "judgebench"


def test_pairwise_json_has_exactly_the_documented_keys() -> None:
    path = JUDGEBENCH / "arena_hard_o1-mini_gpt-4o-pairs.decisions.jsonl"
    done = runner.invoke(
        app, ["meta-eval", "pairwise", str(path), "--judgebench-categories", "--json"]
    )
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert set(data) == {"accuracy", "n_pairs", "consistency", "by_source"}
    assert (data["n_pairs"], round(data["accuracy"], 4)) == (350, 0.6571)
    assert set(data["by_source"]) == {
        "mmlu-pro",
        "livebench-reasoning",
        "livebench-math",
        "livecodebench",
    }
    table = runner.invoke(app, ["meta-eval", "pairwise", str(path)])
    assert table.exit_code == 0 and "mmlu-pro-law" in table.stdout


def test_criteria_and_scores(tmp_path: Path) -> None:
    run = write_run(
        tmp_path / "run",
        [
            result(
                "s1",
                [verdict("a", "met", tags=["axis:accuracy"]), verdict("b", "not_met")],
                score=0.9,
            ),
            result("s2", [verdict("a", "not_met", tags=["axis:accuracy"])], score=0.1),
            result("s3", [verdict("a", "met")], score=0.5),
        ],
    )
    labels = write_jsonl(
        tmp_path / "labels.jsonl",
        [
            {"sample_id": "s1", "criterion_id": "a", "label": True},
            {"sample_id": "s1", "criterion_id": "b", "label": True},
            {"sample_id": "s2", "criterion_id": "a", "label": False},
            {"sample_id": "zz", "criterion_id": "a", "label": False},
        ],
    )
    done = runner.invoke(
        app,
        ["meta-eval", "criteria", str(run), "--labels", str(labels), "--json", "--resamples", "50"],
    )
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["overall"]["accuracy"]["value"] == 2 / 3
    assert data["unmatched"]["count"] == 1
    assert "accuracy" in data["by_axis"]
    table = runner.invoke(app, ["meta-eval", "criteria", str(run), "--labels", str(labels)])
    assert table.exit_code == 0
    assert "kappa" in table.stdout
    assert f"{labels}:4" in table.output  # the unmatched line, located
    scores = write_jsonl(
        tmp_path / "scores.jsonl",
        [{"sample_id": s, "score": v} for s, v in (("s1", 5), ("s2", 1), ("s3", 3))],
    )
    done = runner.invoke(app, ["meta-eval", "scores", str(run), "--labels", str(scores), "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["spearman"]["value"] == 1.0


def test_a_bad_label_line_exits_2_naming_it(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", [result("s1", [verdict("a", "met")])])
    labels = write_jsonl(
        tmp_path / "labels.jsonl", [{"sample_id": "s1", "criterion_id": "a", "label": "yes"}]
    )
    done = runner.invoke(app, ["meta-eval", "criteria", str(run), "--labels", str(labels)])
    assert done.exit_code == 2
    assert f"{labels}:1" in done.output and "label" in done.output
    assert "Traceback" not in done.output


def test_drift(tmp_path: Path) -> None:
    run_a = write_run(
        tmp_path / "a",
        [result(f"s{i}", [verdict("c", "met")], score=0.6, tags=["theme:x"]) for i in range(5)],
    )
    run_b = write_run(
        tmp_path / "b",
        [result(f"s{i}", [verdict("c", "not_met")], score=0.1, tags=["theme:x"]) for i in range(5)],
    )
    done = runner.invoke(app, ["drift", str(run_a), str(run_b), "--json", "--resamples", "50"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["verdict_changes"] == 5
    assert data["concentrated"] == ["tag:theme:x"]
    table = runner.invoke(app, ["drift", str(run_a), str(run_b)])
    assert table.exit_code == 0 and "shift concentrates in: tag:theme:x" in table.stdout
