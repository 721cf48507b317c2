"""Bad input costs no judge call (the pre-pass), and a run that could not grade fails: exit 3 when
no sample was scored, exit 6 past --max-error-rate, in `grade` and in `score` alike."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import rubricate
from rubricate.cli import app
from rubricate.engine import Grader
from rubricate.errors import InputError
from rubricate.formats import read_samples
from rubricate.runs import check_input, grade_to_dir
from tests.helpers import healthbench_line, write_jsonl
from tests.support.judge_server import GARBAGE_CONTENT, JudgeServer

runner = CliRunner()


def dataset(path: Path, n: int = 20, per: int = 5, flaky: int = 0) -> Path:
    """``n`` samples of ``per`` criteria; the first ``flaky`` samples carry one criterion the
    judge below never answers."""
    lines = []
    for i in range(n):
        criteria = [(f"Criterion {i}.{j}", j + 1, ["axis:accuracy"]) for j in range(per)]
        if i < flaky:
            criteria[0] = (f"flaky criterion {i}", 1, ["axis:accuracy"])
        lines.append(healthbench_line(f"p{i}", criteria, response=f"answer {i}"))
    return write_jsonl(path, lines)


def answer_unless_flaky(body: dict[str, Any]) -> str:
    last = body["messages"][-1]["content"]
    return GARBAGE_CONTENT if "flaky criterion" in last else '{"verdict": "met"}'


def grade(url: str, data: Path, out: Path, *extra: str) -> Any:
    args = [
        "grade", str(data), "--judge-url", url, "--judge-model", "stub", "--out", str(out),
        "--no-cache", "--quiet", "--reasks", "0", *extra,
    ]  # fmt: skip
    return runner.invoke(app, args)


def text(result: Any) -> str:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return " ".join(result.output.split())


def summary_of(out: Path) -> dict[str, Any]:
    return json.loads((out / "summary.json").read_text())


# --- validate before judging --------------------------------------------------------------


def test_a_bad_line_11_costs_no_judge_call(tmp_path: Path) -> None:
    data = dataset(tmp_path / "data.jsonl", n=30)
    lines = data.read_text().splitlines()
    lines[10] = lines[10].replace('"points": 1', '"points": NaN')
    data.write_text("\n".join(lines) + "\n")
    with JudgeServer() as judge:
        result = grade(judge.url, data, tmp_path / "run")
        assert judge.requests == 0
    assert result.exit_code == 2 and f"{data}:11" in text(result).replace(" ", "")
    assert not (tmp_path / "run" / "results.jsonl.partial").exists()


def test_a_missing_response_costs_no_judge_call(tmp_path: Path) -> None:
    data = dataset(tmp_path / "data.jsonl", n=5)
    lines = [json.loads(x) for x in data.read_text().splitlines()]
    del lines[4]["response"]
    write_jsonl(data, lines)
    with JudgeServer() as judge:
        result = grade(judge.url, data, tmp_path / "run")
        assert judge.requests == 0
    assert result.exit_code == 2
    assert "sample 'p4' has no response" in text(result) and "field 'response'" in text(result)


def test_a_sample_missing_from_responses_costs_no_judge_call(tmp_path: Path) -> None:
    data = dataset(tmp_path / "data.jsonl", n=5)
    answers = write_jsonl(
        tmp_path / "answers.jsonl", [{"sample_id": f"p{i}", "response": "x"} for i in range(4)]
    )
    with JudgeServer() as judge:
        result = grade(judge.url, data, tmp_path / "run", "--responses", str(answers))
        assert judge.requests == 0
    assert result.exit_code == 2 and "no response for sample 'p4'" in text(result)


def test_skip_counts_what_the_pre_pass_found_and_grades_the_rest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = dataset(tmp_path / "data.jsonl", n=10, per=2)
    lines = data.read_text().splitlines()
    lines[2] = "{not json"
    lines[7] = lines[7].replace('"points": 1', '"points": "1"')
    data.write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING), JudgeServer() as judge:
        result = grade(judge.url, data, tmp_path / "run", "--on-invalid", "skip")
        assert judge.requests == 8 * 2
    assert result.exit_code == 0, result.output
    assert any("2 invalid item(s) will be skipped" in r.getMessage() for r in caplog.records)
    summary = summary_of(tmp_path / "run")
    assert summary["n_samples"] == 8 and summary["counts"]["skipped_lines"] == 2


def test_nothing_valid_to_grade_is_bad_input_not_an_empty_run(tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text("{not json\n[1]\n")
    with JudgeServer() as judge:
        result = grade(judge.url, data, tmp_path / "run", "--on-invalid", "skip")
        assert judge.requests == 0
    assert result.exit_code == 2 and "no sample to grade: all 2 item(s) are invalid" in text(result)


def test_the_library_checks_a_reader_before_the_first_call(tmp_path: Path) -> None:
    data = dataset(tmp_path / "data.jsonl", n=12)
    with data.open("a") as handle:
        handle.write('{"prompt_id": "bad"}\n')

    async def run(url: str) -> None:
        judge = rubricate.create_judge(url, model="stub")
        try:
            await grade_to_dir(Grader(judge), lambda: read_samples(data), tmp_path / "run")
        finally:
            await judge.aclose()

    with JudgeServer() as judge, pytest.raises(InputError) as caught:
        asyncio.run(run(judge.url))
    assert judge.requests == 0 and caught.value.line == 13


def test_check_input_streams_a_reader_without_keeping_samples(tmp_path: Path) -> None:
    data = dataset(tmp_path / "data.jsonl", n=7, per=3)
    checked = check_input(read_samples(data), source=str(data))
    assert (checked.samples, checked.criteria, checked.invalid) == (7, 21, 0)


# --- a failed run fails ----------------------------------------------------------------------


def test_no_parseable_verdict_exits_3_and_the_summary_says_why(tmp_path: Path) -> None:
    data = dataset(tmp_path / "data.jsonl", n=4, per=3)
    with JudgeServer(respond=lambda body: GARBAGE_CONTENT) as judge:
        result = grade(judge.url, data, tmp_path / "run")
    assert result.exit_code == 3, result.output
    output = text(result)
    assert "error (no_sample_scored): no sample could be scored" in output
    assert "12 replies could not be parsed, 12 of 12 criteria ended in error" in output
    summary = summary_of(tmp_path / "run")
    assert summary["score"] is None and summary["status"] == "failed"
    assert summary["failure"]["rule"] == "no_sample_scored"


def test_errors_past_the_max_error_rate_exit_6(tmp_path: Path) -> None:
    data = dataset(tmp_path / "data.jsonl", n=20, per=5, flaky=3)  # 3 of 100 criteria: 3%
    out = tmp_path / "run"
    with JudgeServer(respond=answer_unless_flaky) as judge:
        result = grade(judge.url, data, out)
    assert result.exit_code == 6, result.output
    assert "3 of 100 criteria (3.0%) ended in error, more than --max-error-rate 0.02" in text(
        result
    )
    summary = summary_of(out)
    assert summary["score"] is not None and summary["status"] == "failed"
    assert summary["failure"] == {
        "rule": "max_error_rate",
        "message": summary["failure"]["message"],
        "error_rate": 0.03,
        "max_error_rate": 0.02,
    }


def test_the_max_error_rate_comes_from_the_flag_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = dataset(tmp_path / "data.jsonl", n=20, per=5, flaky=3)
    with JudgeServer(respond=answer_unless_flaky) as judge:
        flag = grade(judge.url, data, tmp_path / "flag", "--max-error-rate", "0.05")
        monkeypatch.setenv("RUBRICATE_MAX_ERROR_RATE", "0.03")
        env = grade(judge.url, data, tmp_path / "env")
    assert flag.exit_code == 0 and env.exit_code == 0, flag.output + env.output
    assert summary_of(tmp_path / "flag")["status"] == "ok"
    assert summary_of(tmp_path / "env")["failure"] is None
    bad = grade("http://127.0.0.1:9/v1", data, tmp_path / "x", "--max-error-rate", "1.5")
    assert bad.exit_code == 2 and "judge.max_error_rate" in text(bad)


def test_score_applies_the_same_rules(tmp_path: Path) -> None:
    data = dataset(tmp_path / "data.jsonl", n=20, per=5, flaky=3)
    out = tmp_path / "run"
    with JudgeServer(respond=answer_unless_flaky) as judge:
        grade(judge.url, data, out, "--max-error-rate", "1")
    results = str(out / "results.jsonl")
    strict = runner.invoke(app, ["score", results, "-q"])
    assert strict.exit_code == 6 and "(max_error_rate)" in text(strict)
    assert summary_of(out)["failure"]["rule"] == "max_error_rate"
    lenient = runner.invoke(app, ["score", results, "-q", "--max-error-rate", "0.05"])
    assert lenient.exit_code == 0, lenient.output
    assert summary_of(out)["status"] == "ok"
    # Every verdict turned into an error by hand: nothing can be scored.
    lines = [json.loads(x) for x in Path(results).read_text().splitlines()]
    for line in lines:
        for verdict in line["verdicts"]:
            verdict["verdict"] = "error"
    broken = write_jsonl(tmp_path / "broken.jsonl", lines)
    none = runner.invoke(app, ["score", str(broken), "-q", "--max-error-rate", "1"])
    assert none.exit_code == 3 and "no sample could be scored" in text(none)


def test_score_refuses_to_overwrite_its_own_input(tmp_path: Path) -> None:
    data = dataset(tmp_path / "data.jsonl", n=3, per=2)
    out = tmp_path / "run"
    with JudgeServer() as judge:
        assert grade(judge.url, data, out).exit_code == 0
    results = out / "results.jsonl"
    before = results.read_bytes()
    spellings = [str(results), str(out / ".." / "run" / "results.jsonl")]
    (tmp_path / "link.jsonl").symlink_to(results)
    spellings.append(str(tmp_path / "link.jsonl"))
    for spelling in spellings:
        refused = runner.invoke(app, ["score", str(results), "--write-results", spelling])
        assert refused.exit_code == 2, (spelling, refused.output)
        assert "is an input of this command" in text(refused)
    clobber = runner.invoke(app, ["score", str(results), "--out", str(results)])
    assert clobber.exit_code == 2 and "--out" in text(clobber)
    assert results.read_bytes() == before
