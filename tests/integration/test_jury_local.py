"""A jury of a loopback judge server and the embedded SmolLM2 judge, through ``rubricate grade``.

SmolLM2-135M is near-constant: this pins the plumbing (a local member built from the jury
file with the judge settings, its own cache key, both votes in the results, the agreement in
the summary), not the small model's judgement.
"""

from __future__ import annotations

import importlib.util
import json

import pytest
from typer.testing import CliRunner

from rubricate.cli import app
from tests.helpers import healthbench_line, write_jsonl
from tests.support.judge_server import JudgeServer

MODEL = "smollm2-135m"


def require_local_model() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed (pip install 'rubricate[local]')")
    from rubricate.errors import ModelError
    from rubricate.models import resolve_model

    try:
        resolve_model(MODEL)
    except ModelError as error:
        pytest.skip(f"the {MODEL} model is not installed: {error}")


def test_a_jury_with_the_embedded_judge(tmp_path) -> None:
    require_local_model()
    data = write_jsonl(
        tmp_path / "data.jsonl",
        [
            healthbench_line(
                "p1",
                [("States that Paris is the capital", 5, []), ("Answers in French", 2, [])],
                response="The capital of France is Paris.",
            )
        ],
    )
    with JudgeServer() as server:
        jury = tmp_path / "jury.json"
        jury.write_text(
            json.dumps(
                {
                    "judges": [{"url": server.url, "model": "stub"}, {"local_model": MODEL}],
                    "rule": "any",
                }
            )
        )
        args = ["grade", str(data), "--jury", str(jury), "--threads", "1", "--context", "2048",
                "--cache", str(tmp_path / "c.sqlite"), "--quiet"]  # fmt: skip
        first = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "r1")])
        assert first.exit_code == 0, first.output
        calls = server.requests
        again = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "r2")])
        assert again.exit_code == 0, again.output
        assert server.requests == calls == 2
    result = json.loads((tmp_path / "r1" / "results.jsonl").read_text())
    judges = [[v["judge"] for v in r["jury"]] for r in result["verdicts"]]
    assert all(len(set(j)) == 2 for j in judges)
    assert any("llama" in j.lower() or MODEL in j.lower() for j in judges[0])
    summary = json.loads((tmp_path / "r1" / "summary.json").read_text())
    assert summary["jury"]["rule"] == "any" and len(summary["jury"]["judges"]) == 2
    second = json.loads((tmp_path / "r2" / "summary.json").read_text())
    assert second["counts"]["judge_calls"] == 0 and second["counts"]["cache_hits"] == 4
