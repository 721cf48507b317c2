"""``rubricate generate`` end to end over HTTP (a fake OpenAI-compatible server on loopback)."""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

import pytest
from typer.testing import CliRunner

import rubricate.cli.generate  # noqa: F401  (registers the generate commands)
from rubricate.cli._app import app
from tests.support.judge_server import JudgeServer

_RESPONSE = re.compile(r"<(response-[0-9a-f]{16})>\n(.*?)\n</\1>", re.DOTALL)
_CRITERION = re.compile(r'<criterion id="[^"]+"[^>]*>\n(.*?)\n</criterion>', re.DOTALL)
RUBRIC = {
    "criteria": [
        {
            "criterion": "Names the largest planet as Jupiter.",
            "kind": "principle",
            "importance": "essential",
            "axis": "accuracy",
        },
        {
            "criterion": "Gives the largest planet in one short sentence naming Jupiter.",
            "kind": "hard_rule",
            "importance": "important",
        },
    ]
}


def respond(body: dict[str, Any]) -> str:
    last = body["messages"][-1]["content"]
    found = _CRITERION.search(last)
    if found is None:
        return json.dumps(RUBRIC)
    response = _RESPONSE.search(last).group(2)
    word = found.group(1).rstrip(".").split()[-1].lower()
    return json.dumps({"verdict": "met" if word in response.lower() else "not_met"})


@pytest.fixture
def server():  # type: ignore[no-untyped-def]
    with JudgeServer(respond=respond) as running:
        yield running


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, ["generate", *args], catch_exceptions=False)


def write_jsonl(path, rows) -> None:  # type: ignore[no-untyped-def]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_from_prompt_writes_rubrics_and_a_summary_then_resumes_from_cache(server, tmp_path) -> None:
    data, out = tmp_path / "prompts.jsonl", tmp_path / "out" / "rubrics.jsonl"
    write_jsonl(
        data, [{"prompt_id": f"p{i}", "prompt": "Which is the largest planet?"} for i in range(3)]
    )
    flags = [
        "--judge-url",
        server.url,
        "--judge-model",
        "stub",
        "--cache",
        str(tmp_path / "c.sqlite"),
        "-o",
        str(out),
    ]
    result = invoke("from-prompt", str(data), *flags)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["prompt_id"] for line in lines] == ["p0", "p1", "p2"]
    assert lines[0]["rubrics"][0] == {
        "criterion": RUBRIC["criteria"][0]["criterion"],
        "points": 5.0,
        "tags": ["axis:accuracy", "kind:principle", "importance:essential"],
    }
    assert lines[0]["provenance"]["model"].startswith("openai:stub:")
    summary = json.loads((out.parent / "rubrics.summary.json").read_text())
    assert (
        summary["written"] == 3 and summary["generator_calls"] == 1
    )  # one identical prompt, asked once
    before = server.requests
    again = invoke("from-prompt", str(data), *flags)
    assert again.exit_code == 0 and server.requests == before
    with sqlite3.connect(tmp_path / "c.sqlite") as db:  # the run journal saw a resumed attempt
        assert db.execute("SELECT attempts, status FROM runs").fetchall() == [(2, "complete")]
    assert not (out.parent / "rubrics.jsonl.partial").exists()


def test_contrastive_reports_kept_regenerated_dropped(server, tmp_path) -> None:
    data, out = tmp_path / "pairs.jsonl", tmp_path / "rubrics.jsonl"
    write_jsonl(
        data,
        [
            {
                "pair_id": "good",
                "question": "Which is the largest planet?",
                "response_A": "Jupiter is.",
                "response_B": "Saturn is.",
                "label": "A>B",
            },
            {
                "pair_id": "bad",
                "question": "Which is the largest planet?",
                "response_A": "Jupiter is.",
                "response_B": "Saturn is.",
                "label": "B>A",
            },
        ],
    )
    result = invoke(
        "contrastive",
        str(data),
        "--regenerations",
        "1",
        "--judge-url",
        server.url,
        "--judge-model",
        "stub",
        "--no-cache",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert "good: kept (2 criteria)" in result.output and "bad: dropped" in result.output
    summary = json.loads((tmp_path / "rubrics.summary.json").read_text())
    assert (summary["kept"], summary["regenerated"], summary["dropped"]) == (1, 0, 1)
    assert summary["regeneration_attempts"] == 1


def test_bad_lines_stop_the_run_or_are_counted(server, tmp_path) -> None:
    data, out = tmp_path / "prompts.jsonl", tmp_path / "rubrics.jsonl"
    data.write_text(
        '{"prompt_id": "p0", "prompt": "Which is the largest planet?"}\n{"prompt_id": "p1"}\nnot json\n'
    )
    flags = ["--judge-url", server.url, "--judge-model", "stub", "--no-cache", "-o", str(out)]
    stopped = invoke("from-prompt", str(data), *flags)
    assert stopped.exit_code == 2 and "prompts.jsonl:2" in stopped.output
    skipped = invoke("from-prompt", str(data), *flags, "--on-invalid", "skip")
    assert skipped.exit_code == 0
    assert json.loads((tmp_path / "rubrics.summary.json").read_text())["skipped_lines"] == 2


def test_retrieve_needs_its_bank_file(server, tmp_path) -> None:
    data = tmp_path / "prompts.jsonl"
    write_jsonl(data, [{"prompt": "Which is the largest planet?"}])
    result = invoke(
        "retrieve",
        str(data),
        "--bank",
        str(tmp_path / "missing.jsonl"),
        "--judge-url",
        server.url,
        "--judge-model",
        "stub",
        "--no-cache",
    )
    assert result.exit_code == 2 and "missing.jsonl" in result.output
