"""``rubricate compare --generate-rubric`` end to end against a loopback judge over HTTP."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from rubricate.cli import app
from tests.support.judge_server import JudgeServer

runner = CliRunner()
_SEAT = re.compile(r"<(response-([AB])-[0-9a-f]+)>\n(.*?)\n</\1>", re.DOTALL)
PROMPT = "Name the prime number seven asks for: which prime is 7, and list its divisors."
RIGHT = "7. It is prime."
VERBOSE = "9 is prime: a prime has exactly two divisors; 9 divides by 1 and 9; checked 2..8."
RUBRIC = json.dumps(
    {
        "criteria": [
            {"criterion": "The number named in the answer is 7.", "kind": "hard_rule",
             "importance": "essential", "axis": "accuracy"},
            {"criterion": "Lists the divisors of the named number.", "kind": "principle",
             "importance": "important"},
        ]
    }
)  # fmt: skip


def _judge(body: dict[str, Any], rubric: str = RUBRIC) -> str:
    """Writes ``rubric``; compares: naming 7 meets the required criterion, VERBOSE wins the rest."""
    content = body["messages"][-1]["content"]
    seats = {seat: text for _, seat, text in _SEAT.findall(content)}
    if not seats:
        return rubric
    if 'note="required"' in content:
        verdict = {True: "met", False: "not_met"}
        return json.dumps({s: verdict[text.startswith("7")] for s, text in seats.items()})
    return json.dumps({"winner": "A" if seats["A"] == VERBOSE else "B"})


def _args(
    server: JudgeServer, data: Path, tmp_path: Path, *extra: str, out: str = "run"
) -> list[str]:
    return [
        "compare", str(data), "--judge-url", server.url, "--judge-model", "stub",
        "--out", str(tmp_path / out), "--cache", str(tmp_path / "cache.sqlite"), *extra,
    ]  # fmt: skip


def _pairs_file(tmp_path: Path) -> Path:
    data = tmp_path / "pairs.jsonl"
    record = {"pair_id": "p0", "question": PROMPT, "response_A": VERBOSE, "response_B": RIGHT,
              "label": "B>A", "source": "math"}  # fmt: skip
    data.write_text(json.dumps(record) + "\n", encoding="utf-8")
    return data


def _flat(output: str) -> str:
    """The terminal output with rich's wrapping undone."""
    return " ".join(output.split())


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_generated_rubric_vetoes_and_a_rerun_sends_nothing(tmp_path: Path) -> None:
    data = _pairs_file(tmp_path)
    with JudgeServer(respond=_judge) as server:
        result = runner.invoke(
            app, _args(server, data, tmp_path, "--generate-rubric", "from-prompt")
        )
        assert result.exit_code == 0, result.output
        assert server.requests == 1 + 2 * 2  # one rubric, 2 criteria x 2 orders
        again = runner.invoke(
            app, _args(server, data, tmp_path, "--generate-rubric", "from-prompt")
        )
        assert again.exit_code == 0, again.output
        assert server.requests == 5
    assert "rubrics (from-prompt): 1 generated, 0 from data, 0 generation failures" in _flat(
        result.output
    )
    assert "generation calls 0, cache hits 1" in _flat(again.output)
    (line,) = _lines(tmp_path / "run" / "pairs.jsonl")
    # VERBOSE (A) wins the divisors criterion, but fails the required one that B meets.
    assert line["rubric_source"] == "generated" and line["preference"] == "B>A"
    assert line["correct"] is True
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert summary["rubric_generation"]["generated"] == 1
    assert summary["rubric_generation"]["calls"] == 0  # the rerun's summary
    (rubric,) = _lines(tmp_path / "run" / "rubrics.jsonl")
    assert rubric["prompt_id"] == "p0" and rubric["rubrics"][0]["required"] is True


def test_generated_rubrics_read_back_reproduce_the_decisions(tmp_path: Path) -> None:
    data = _pairs_file(tmp_path)
    model_a, model_b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    model_a.write_text(
        json.dumps({"sample_id": "p0", "response": VERBOSE}) + "\n", encoding="utf-8"
    )
    model_b.write_text(json.dumps({"sample_id": "p0", "response": RIGHT}) + "\n", encoding="utf-8")
    responses = ("--responses-a", str(model_a), "--responses-b", str(model_b))
    rubrics = tmp_path / "run" / "rubrics.jsonl"
    with JudgeServer(respond=_judge) as server:
        first = runner.invoke(
            app, _args(server, data, tmp_path, "--generate-rubric", "from-prompt")
        )
        assert first.exit_code == 0, first.output
        sent = server.requests
        reused = runner.invoke(app, _args(server, rubrics, tmp_path, *responses, out="reuse"))
        assert reused.exit_code == 0, reused.output
        assert server.requests == sent  # same criteria, same texts: every answer from the cache
    (generated,) = _lines(tmp_path / "run" / "pairs.jsonl")
    (read_back,) = _lines(tmp_path / "reuse" / "pairs.jsonl")
    assert read_back["rubric_source"] == "data" and generated["rubric_source"] == "generated"
    assert read_back["decisions"] == generated["decisions"] == ["B>A", "B>A"]
    assert [c["required"] for c in read_back["criteria"]] == [True, False]


def test_contrastive_is_refused_with_the_reason(tmp_path: Path) -> None:
    data = _pairs_file(tmp_path)
    with JudgeServer(respond=_judge) as server:
        result = runner.invoke(
            app, _args(server, data, tmp_path, "--generate-rubric", "contrastive")
        )
        assert server.requests == 0
    assert result.exit_code == 2, result.output
    assert "label would leak" in result.output and "Traceback" not in result.output


def test_generate_rubric_with_holistic_or_a_stray_bank_is_a_usage_error(tmp_path: Path) -> None:
    data = _pairs_file(tmp_path)
    with JudgeServer(respond=_judge) as server:
        holistic = runner.invoke(
            app,
            _args(server, data, tmp_path, "--generate-rubric", "from-prompt", "--by", "holistic"),
        )
        no_bank = runner.invoke(app, _args(server, data, tmp_path, "--generate-rubric", "retrieve"))
        assert server.requests == 0
    assert holistic.exit_code == 2 and "holistic" in holistic.output
    assert no_bank.exit_code == 2 and "--bank" in no_bank.output


def test_a_generator_writing_garbage_fails_the_run_with_counted_errors(tmp_path: Path) -> None:
    data = _pairs_file(tmp_path)
    with JudgeServer(respond=lambda body: _judge(body, rubric="no rubric today")) as server:
        result = runner.invoke(
            app, _args(server, data, tmp_path, "--generate-rubric", "from-prompt")
        )
    assert result.exit_code == 3, result.output
    assert "0 generated, 0 from data, 1 generation failures" in _flat(result.output)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert summary["counts"]["error_pairs"] == 1 and summary["counts"]["judge_calls"] == 0
    assert summary["rubric_generation"]["unparseable_replies"] == 3  # asked, then re-asked twice
    (line,) = _lines(tmp_path / "run" / "pairs.jsonl")
    assert line["judgments"][0]["error"].startswith("rubric_generation_failed: no parseable rubric")
