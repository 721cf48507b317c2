"""Native formats graded over HTTP by a loopback OpenAI-compatible judge that answers on each
benchmark's own scale ({"score": N}), per criterion and in groups."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import rubricate
from rubricate.backends.openai import OpenAIJudge
from rubricate.formats import read_samples
from rubricate.scoring import NativeScore, summarize_native
from rubricate.types import Sample
from tests.support.judge_server import JudgeServer

DATA = Path(__file__).resolve().parents[1] / "data"
_BLOCK = re.compile(r'<criterion id="([^"]+)"[^>]*>\n(.*?)\n</criterion>', re.DOTALL)


def _score_for(text: str, choices: tuple[int, ...]) -> int:
    return choices[sum(text.encode("utf-8")) % len(choices)]


def _respond(choices: tuple[int, ...]) -> Any:
    def respond(body: dict[str, Any]) -> str:
        blocks = _BLOCK.findall(body["messages"][-1]["content"])
        scores = [
            {"id": ident, "score": _score_for(text.split("\n", 1)[0], choices)}
            for ident, text in blocks
        ]
        if len(scores) == 1:
            return json.dumps({"score": scores[0]["score"], "reason": "ok"})
        return json.dumps({"verdicts": scores})

    return respond


def _samples(path: Path, fmt: str) -> list[Sample]:
    items = [s for s in read_samples(path, format=fmt) if isinstance(s, Sample)]  # type: ignore[arg-type]
    return [s.with_response(f"Answer {s.id}") for s in items]


@pytest.mark.parametrize("mode", ["per-criterion", "grouped"])
def test_drb2_over_http_matches_its_aggregation(mode: str) -> None:
    path = DATA / "drb2" / "tasks_and_rubrics_sample.jsonl"
    choices = (1, 0, -1)
    with JudgeServer(respond=_respond(choices), record=False) as server:
        judge = OpenAIJudge(base_url=server.url, model="stub", timeout=5.0)
        result = rubricate.grade(_samples(path, "drb2"), judge, mode=mode, group_size=4)
    totals = []
    for line, graded in zip(path.read_text("utf-8").splitlines(), result.results, strict=True):
        rubric = json.loads(line)["content"]["rubric"]
        scores = [_score_for(t, choices) for items in rubric.values() for t in dict.fromkeys(items)]
        totals.append(scores.count(1) / len(scores))
        assert graded.native["blocked_rate"] == pytest.approx(scores.count(-1) / len(scores))
        assert graded.native_score == pytest.approx(totals[-1])
    run = summarize_native(
        NativeScore("drb2", r.native_score, dict(r.native)) for r in result.results
    )
    assert run is not None and run.score == pytest.approx(sum(totals) / len(totals))
    assert result.summary.counts.errors == 0


@pytest.mark.parametrize(
    "name",
    [
        "writingbench_sample.jsonl",  # synthetic, with ``lang``
        "writingbench_real.jsonl",  # three published WritingBench queries (see its README)
    ],
)
def test_writingbench_over_http_scores_on_1_to_10(name: str) -> None:
    path = DATA / "writingbench" / name
    choices = tuple(range(1, 11))
    with JudgeServer(respond=_respond(choices), record=False) as server:
        judge = OpenAIJudge(base_url=server.url, model="stub", timeout=5.0)
        result = rubricate.grade(_samples(path, "writingbench"), judge)
    everything = []
    for line, graded in zip(path.read_text("utf-8").splitlines(), result.results, strict=True):
        checklist = json.loads(line)["checklist"]
        scores = [
            _score_for(f"{c['name']}: {c['criteria_description']}", choices) for c in checklist
        ]
        everything.extend(scores)
        assert graded.native_score == pytest.approx(sum(scores) / len(scores))
    run = summarize_native(
        NativeScore("writingbench", r.native_score, dict(r.native)) for r in result.results
    )
    assert run is not None and run.score == pytest.approx(sum(everything) / len(everything))
