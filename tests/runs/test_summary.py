"""The run summary as ``RunAccumulator`` builds it from streamed results: native figures,
themes, clusters and the length-adjusted score, through the scoring core."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

import rubricate
from rubricate.backends import ScriptedJudge
from rubricate.backends.scripted import criteria_in
from rubricate.errors import ConfigError, InputError
from rubricate.results import Counts, SampleResult, Tokens
from rubricate.rubric import Criterion, Rubric, Scale
from rubricate.runs import RunAccumulator, rescore_results
from rubricate.scoring import summarize
from rubricate.types import JudgeRequest, Message, Sample


def _sample(sample_id: str, criteria: list[Criterion], themes: list[str], response: str) -> Sample:
    return Sample(
        id=sample_id,
        messages=(Message("user", f"Question {sample_id}"),),
        rubric=Rubric(id=sample_id, criteria=tuple(criteria)),
        response=response,
        metadata={"example_tags": themes},
    )


def _unmet_if_marked(request: JudgeRequest) -> str:
    ((_, text),) = criteria_in(request)
    return '{"verdict": "not_met"}' if "[x]" in text else '{"verdict": "met"}'


def _healthbench_like() -> list[Sample]:
    def c(cid: str, points: float, *tags: str) -> Criterion:
        return Criterion(id=cid, text=cid, points=points, tags=tags)

    return [
        _sample(
            "a",
            [c("a1", 5, "cluster:emergency", "level:cluster"), c("a2 [x]", 5, "cluster:emergency"),
             c("a3", 2, "level:example"), c("a4 [x]", -3, "cluster:emergency")],
            ["theme:emergency", "theme:emergency", "physician_agreed_category:x"],
            "a" * 2500,
        ),
        _sample(
            "b",
            [c("b1 [x]", 4, "cluster:emergency"), c("b2", 6, "level:example")],
            ["theme:emergency"],
            "b" * 900,
        ),
        _sample("c", [c("c1", 1), c("c2 [x]", 1, "cluster:hedging")], ["theme:hedging"], "c" * 2000),
    ]  # fmt: skip


def test_grading_summary_has_themes_clusters_and_length_adjusted_from_the_core() -> None:
    samples = _healthbench_like()
    result = rubricate.grade(samples, ScriptedJudge(reply=_unmet_if_marked))
    # healthbench per sample: a = (5 + 2) / 12, b = 6 / 10, c = 1 / 2
    scores = {"a": 7 / 12, "b": 0.6, "c": 0.5}
    summary = result.summary
    assert {r.sample_id: r.score for r in result.results} == pytest.approx(scores)
    # a theme gets the sample score, once per sample even if listed twice
    assert summary.themes["theme:emergency"].n_samples == 2
    assert summary.themes["theme:emergency"].score == pytest.approx((7 / 12 + 0.6) / 2)
    assert summary.themes["theme:hedging"].score == pytest.approx(0.5)
    assert set(summary.themes) == {"theme:emergency", "theme:hedging"}
    # a cluster gets the score over its criteria only; "cluster:hedging" has 1 point, unmet
    clusters = {tag: (g.score, g.n_samples) for tag, g in summary.clusters.items()}
    assert clusters == {
        "cluster:emergency": (pytest.approx((5 / 10 + 0 / 4) / 2), 2),
        "cluster:hedging": (0.0, 1),
        "level:cluster": (1.0, 1),
        "level:example": (1.0, 2),
    }
    run = summarize([5 / 10, 0.0])
    assert summary.clusters["cluster:emergency"].ci95 == run.ci95
    assert summary.native is None and summary.length_adjusted is None
    data = json.loads(summary.model_dump_json())
    assert "native" not in data and "length_adjusted" not in data  # absent, not null
    assert [r.metadata["response_chars"] for r in result.results] == [2500, 900, 2000]


def test_length_adjusted_score_and_interval() -> None:
    accumulator = RunAccumulator(length_penalty=0.1)
    result = rubricate.grade(_healthbench_like(), ScriptedJudge(reply=_unmet_if_marked))
    for line in result.results:
        accumulator.add(line)
    summary = accumulator.summary(method="healthbench", counts=Counts(), tokens=Tokens())
    adjusted = [7 / 12 - 0.1 * 500 / 500, 0.6 + 0.1 * 1100 / 500, 0.5]
    length = summary.length_adjusted
    assert length is not None and length.penalty == 0.1 and length.n_scored == 3
    assert length.score == pytest.approx(float(np.clip(np.mean(adjusted), 0, 1)))
    assert (length.bootstrap_std, length.ci95) == (
        summarize(adjusted).bootstrap_std,
        summarize(adjusted).ci95,
    )


def test_a_scored_result_without_its_length_is_refused_when_a_penalty_is_set() -> None:
    line = rubricate.grade(_healthbench_like()[:1], ScriptedJudge(reply=_unmet_if_marked)).results[
        0
    ]
    unrecorded = line.model_copy(update={"metadata": {}})
    RunAccumulator().add(unrecorded)  # no penalty: the length is not needed
    with pytest.raises(InputError, match=r"metadata\.response_chars"):
        RunAccumulator(length_penalty=0.1).add(unrecorded)
    with pytest.raises(ConfigError, match="length penalty"):
        RunAccumulator(length_penalty=-1.0)


def _native_line(sample_id: str, scheme: str, score: float) -> SampleResult:
    return SampleResult.model_validate(
        {
            "sample_id": sample_id,
            "rubric_fingerprint": "f",
            "score": score,
            "native_scheme": scheme,
            "native_score": score,
            "native": {"clipped": score} if scheme == "prbench" else {},
            "verdicts": [{"criterion_id": "c", "criterion": "C", "points": 1, "verdict": "met"}],
        }
    )


def test_native_figures_of_two_benchmarks_are_not_mixed(caplog: pytest.LogCaptureFixture) -> None:
    accumulator = RunAccumulator()
    accumulator.add(_native_line("a", "prbench", 0.4))
    accumulator.add(_native_line("b", "prbench", 0.8))
    summary = accumulator.summary(method="healthbench", counts=Counts(), tokens=Tokens())
    assert summary.native is not None
    assert summary.native.score == pytest.approx(0.6)
    assert summary.native.parts == pytest.approx({"clipped": 0.6})
    with caplog.at_level(logging.WARNING):
        accumulator.add(_native_line("c", "researchqa", 0.5))
    assert "different benchmarks" in caplog.text
    summary = accumulator.summary(method="healthbench", counts=Counts(), tokens=Tokens())
    assert summary.native is None and summary.score == pytest.approx((0.4 + 0.8 + 0.5) / 3)


def test_rescore_recomputes_native_scores_after_a_verdict_is_edited(tmp_path) -> None:
    levels = tuple(f"{n}" for n in range(1, 11))
    criteria = tuple(
        Criterion(id=f"c{i}", text=f"Criterion {i}", scale=Scale(kind="ordinal", levels=levels,
                  values=tuple(float(n) for n in range(1, 11))))
        for i in range(2)
    )  # fmt: skip
    sample = Sample(
        "w1",
        (Message("user", "Write."),),
        Rubric(id="w1", criteria=criteria, metadata={"native": "writingbench"}),
        "text",
    )
    graded = rubricate.grade([sample], ScriptedJudge(reply=lambda r: '{"score": 4}'))
    line = graded.results[0]
    assert (line.native_scheme, line.native_score) == ("writingbench", 4.0)
    assert graded.summary.native is not None and graded.summary.native.score == 4.0
    edited = json.loads(line.model_dump_json())
    edited["verdicts"][1]["level"] = 9  # a human gives criterion 2 a 10
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(edited) + "\n", "utf-8")
    out = tmp_path / "rescored.jsonl"
    summary, _ = rescore_results([path], write_to=out)
    assert summary.native is not None and summary.native.score == pytest.approx((4 + 10) / 2)
    rewritten = SampleResult.model_validate_json(out.read_text("utf-8"))
    assert rewritten.native_score == pytest.approx(7.0)
    assert rewritten.score == pytest.approx((3 / 9 + 9 / 9) / 2)
