"""The command line: grade against a loopback server, score stored results, errors and exit codes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rubricate.cli import app
from tests.helpers import healthbench_line, write_jsonl
from tests.support.judge_server import JudgeServer

runner = CliRunner()


def decide_by_text(_id: str, text: str, _message: str) -> str:
    return "not_met" if "pitfall" in text or "missing" in text else "met"


@pytest.fixture
def dataset(tmp_path):
    return write_jsonl(
        tmp_path / "data.jsonl",
        [
            healthbench_line(
                "p1",
                [
                    ("Gives the dose", 7, ["axis:accuracy"]),
                    ("Mentions missing info", 5, ["axis:completeness"]),
                    ("Suggests a doctor", 10, ["axis:completeness"]),
                    ("States a pitfall", -6, ["axis:accuracy"]),
                ],
                response="Take 5 mg; see a doctor.",
            ),
            healthbench_line(
                "p2", [("Gives the dose", 4, ["axis:accuracy"])], response="Take 5 mg."
            ),
        ],
    )


def grade_args(server, dataset, tmp_path, *extra):
    return [
        "grade", str(dataset), "--judge-url", server.url, "--judge-model", "stub",
        "--out", str(tmp_path / "run"), "--cache", str(tmp_path / "c.sqlite"), "--quiet", *extra,
    ]  # fmt: skip


def test_grade_writes_results_and_summary(tmp_path, dataset) -> None:
    with JudgeServer(decide=decide_by_text) as server:
        result = runner.invoke(app, grade_args(server, dataset, tmp_path))
        assert result.exit_code == 0, result.output
        assert server.requests == 5
        again = runner.invoke(app, grade_args(server, dataset, tmp_path))
        assert again.exit_code == 0 and server.requests == 5
    lines = [json.loads(x) for x in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert [x["sample_id"] for x in lines] == ["p1", "p2"]
    # 7 + 10 of 22 positive points; the pitfall was not met.
    assert lines[0]["score"] == pytest.approx(17 / 22)
    assert lines[0]["axes"] == {
        "accuracy": pytest.approx(1.0),
        "completeness": pytest.approx(10 / 15),
    }
    record = lines[0]["verdicts"][3]
    assert set(record) >= {
        "criterion_id",
        "criterion",
        "points",
        "tags",
        "verdict",
        "probability",
        "explanation",
    }
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["n_samples"] == 2 and summary["score"] == pytest.approx((17 / 22 + 1) / 2)
    assert summary["counts"]["cache_hits"] == 5 and summary["counts"]["judge_calls"] == 0
    assert set(summary["tokens"]) == {"prompt", "cached_prompt", "completion"}
    assert "score (healthbench)" in again.output


def test_score_recomputes_a_hand_edited_file(tmp_path, dataset) -> None:
    with JudgeServer(decide=decide_by_text) as server:
        assert runner.invoke(app, grade_args(server, dataset, tmp_path)).exit_code == 0
    results = tmp_path / "run" / "results.jsonl"
    lines = [json.loads(x) for x in results.read_text().splitlines()]
    lines[0]["verdicts"][1]["verdict"] = "met"  # a human overrules the judge
    results.write_text("".join(json.dumps(x) + "\n" for x in lines))
    scored = runner.invoke(app, ["score", str(results), "--out", str(tmp_path / "s.json")])
    assert scored.exit_code == 0, scored.output
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["score"] == pytest.approx((22 / 22 + 1) / 2)
    normalized = runner.invoke(
        app, ["score", str(results), "--method", "normalized", "--out", str(tmp_path / "n.json")]
    )
    assert normalized.exit_code == 0
    assert json.loads((tmp_path / "n.json").read_text())["method"] == "normalized"


def test_score_refuses_to_mix_runs(tmp_path, dataset) -> None:
    with JudgeServer(decide=decide_by_text) as server:
        assert runner.invoke(app, grade_args(server, dataset, tmp_path)).exit_code == 0
    results = tmp_path / "run" / "results.jsonl"
    mixed = runner.invoke(app, ["score", str(results), str(results)])
    assert mixed.exit_code == 2
    assert "appears again" in mixed.output and "never mixed" in mixed.output


def test_bad_line_exit_code_and_skip(tmp_path) -> None:
    data = write_jsonl(
        tmp_path / "d.jsonl",
        [healthbench_line("p1", [("A", 1, [])], response="x"), '{"prompt_id": "p2", "prompt": []}'],
    )
    with JudgeServer() as server:
        failed = runner.invoke(app, grade_args(server, data, tmp_path))
        assert failed.exit_code == 2
        assert f"{data}:2" in failed.output and "field 'rubrics'" in failed.output.replace("\n", "")
        skipped = runner.invoke(app, grade_args(server, data, tmp_path, "--on-invalid", "skip"))
    assert skipped.exit_code == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["counts"]["skipped_lines"] == 1 and summary["n_samples"] == 1


def test_responses_file_and_limit(tmp_path) -> None:
    data = write_jsonl(
        tmp_path / "d.jsonl", [healthbench_line(f"p{i}", [("A", 1, [])]) for i in range(3)]
    )
    answers = write_jsonl(
        tmp_path / "r.jsonl", [{"sample_id": f"p{i}", "response": f"answer {i}"} for i in range(3)]
    )
    with JudgeServer() as server:
        result = runner.invoke(
            app, grade_args(server, data, tmp_path, "--responses", str(answers), "--limit", "2")
        )
        assert result.exit_code == 0, result.output
        assert server.requests == 2
        assert "answer 1" in json.dumps(server.log)


def test_unreachable_judge_exits_3(tmp_path, dataset) -> None:
    result = runner.invoke(
        app,
        [
            "grade", str(dataset), "--judge-url", "http://127.0.0.1:9/v1", "--judge-model", "x",
            "--out", str(tmp_path / "run"), "--cache", str(tmp_path / "c.sqlite"), "--quiet",
            "--max-retries", "0", "--timeout", "2",
        ],
    )  # fmt: skip
    assert result.exit_code == 3
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["counts"]["failed_calls"] == 5 and summary["n_scored"] == 0


def test_help_shows_a_worked_example() -> None:
    result = runner.invoke(app, ["grade", "--help"])
    assert result.exit_code == 0
    assert "rubricate grade data.jsonl --judge-url" in result.output


def test_missing_model_option_is_a_config_error(tmp_path, dataset) -> None:
    result = runner.invoke(
        app, ["grade", str(dataset), "--judge-url", "http://127.0.0.1:9/v1", "--quiet"]
    )
    assert result.exit_code == 2 and "--judge-model" in result.output


def test_policy_model_writes_missing_responses_once(tmp_path) -> None:
    data = write_jsonl(
        tmp_path / "d.jsonl",
        [healthbench_line(f"p{i}", [("A", 1, []), ("B", 2, [])]) for i in range(2)],
    )
    with JudgeServer() as judge, JudgeServer() as policy:
        args = grade_args(
            judge, data, tmp_path, "--policy-url", policy.url, "--policy-model", "pol"
        )
        first = runner.invoke(app, args)
        assert first.exit_code == 0, first.output
        assert policy.requests == 2 and judge.requests == 4
        # The judge saw the policy's text as the response to grade.
        sampled = policy.log[0]["messages"]
        assert sampled == [{"role": "user", "content": "Question p0"}]
        second = runner.invoke(app, args)
        assert second.exit_code == 0 and policy.requests == 2 and judge.requests == 4
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["counts"]["policy_cache_hits"] == 2
