"""Each native format's shipped sample graded through ``rubricate.grade``; the scores are checked
against each benchmark's own formula, computed here from the raw file and the judge's answers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rubricate
from rubricate.backends import ScriptedJudge
from rubricate.backends.scripted import criteria_in
from rubricate.formats import read_samples
from rubricate.results import NativeSummary, RunSummary, SampleResult
from rubricate.scoring import summarize
from rubricate.types import JudgeRequest, Sample

DATA = Path(__file__).resolve().parents[1] / "data"


def _pick(text: str, n: int) -> int:
    return hashlib.sha256(text.encode("utf-8")).digest()[0] % n


def _first_line(text: str) -> str:
    return text.split("\n", 1)[0]


def _grade(
    path: Path, fmt: str, answer: Callable[[str], dict[str, Any]]
) -> tuple[list[SampleResult], RunSummary]:
    """Grade every sample of ``path`` with a judge that answers ``answer(criterion text)``."""

    def reply(request: JudgeRequest) -> str:
        ((_, text),) = criteria_in(request)
        return json.dumps(answer(_first_line(text)))

    samples = [s for s in read_samples(path, format=fmt) if isinstance(s, Sample)]
    samples = [s if s.response else s.with_response(f"Report for {s.id}.") for s in samples]
    result = rubricate.grade(samples, ScriptedJudge(reply=reply))
    assert result.summary.counts.errors == 0
    return result.results, result.summary


def _native(summary: RunSummary, scheme: str) -> NativeSummary:
    """The run's native figures from the summary the grading run made."""
    assert summary.native is not None and summary.native.scheme == scheme
    assert summary.native.n_scored == summary.n_scored
    return summary.native


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize(
    "name",
    [
        "writingbench_sample.jsonl",  # synthetic, with ``lang``
        "writingbench_real.jsonl",  # three published WritingBench queries (see its README)
    ],
)
def test_writingbench_scores_are_the_mean_of_its_1_to_10_criterion_scores(name: str) -> None:
    path = DATA / "writingbench" / name

    def score(name: str) -> int:
        return 1 + _pick(name, 10)

    results, summary = _grade(
        path, "writingbench", lambda text: {"score": score(text.split(": ")[0])}
    )
    # WritingBench calculate_scores.py: per query the mean of its criterion scores; Overall is
    # the sum of all criterion scores over their count.
    all_scores: list[int] = []
    for record, result in zip(_records(path), results, strict=True):
        scores = [score(item["name"]) for item in record["checklist"]]
        all_scores.extend(scores)
        assert result.sample_id == str(record["index"])
        assert result.native_score == pytest.approx(sum(scores) / len(scores))
        # rubricate's [0, 1] score: the same levels, normalised (level / 9 with equal weights)
        assert result.score == pytest.approx(sum((s - 1) / 9 for s in scores) / len(scores))
    run = _native(summary, "writingbench")
    assert run.score == pytest.approx(sum(all_scores) / len(all_scores))


def test_drb2_dimensions_total_and_blocked_rate_match_its_aggregation_duplicates_included() -> None:
    path = DATA / "drb2" / "tasks_and_rubrics_sample.jsonl"

    def score(item: str) -> int:
        return (1, 0, -1)[_pick(item, 3)]

    results, summary = _grade(path, "drb2", lambda text: {"score": score(text), "reason": "."})
    per_task: list[dict[str, float | None]] = []
    for record, result in zip(_records(path), results, strict=True):
        # DRB-II's payload keys items by their text, so a repeated item is one entry.
        payload = {
            dim: {item: {"score": score(item)} for item in items}
            for dim, items in record["content"]["rubric"].items()
        }
        expected: dict[str, float | None] = {}
        ones = minus = total = 0
        for dim, out in (
            ("info_recall", "inforecall"),
            ("analysis", "analysis"),
            ("presentation", "presentation"),
        ):
            values = [v["score"] for v in payload[dim].values()]
            expected[out] = values.count(1) / len(values) if values else None
            ones, minus, total = (
                ones + values.count(1),
                minus + values.count(-1),
                total + len(values),
            )
        expected["total"] = ones / total
        expected["blocked_rate"] = minus / total
        per_task.append(expected)
        assert result.native == pytest.approx(expected)
        assert result.native_score == pytest.approx(expected["total"])
        repeated = sum(len(v) - len(set(v)) for v in record["content"]["rubric"].values())
        assert result.metadata["duplicates_dropped"] == repeated
        assert len(result.verdicts) == total
        assert {v.verdict for v in result.verdicts} <= {"met", "not_met", "blocked"}
    assert any(r.metadata["duplicates_dropped"] for r in results)
    run = _native(summary, "drb2")
    for key in ("inforecall", "analysis", "presentation", "total", "blocked_rate"):
        values = [t[key] for t in per_task if t[key] is not None]
        assert run.parts[key] == pytest.approx(sum(values) / len(values))


def test_drb2_judge_sees_the_blocked_source() -> None:
    (sample, *_) = read_samples(DATA / "drb2" / "tasks_and_rubrics_sample.jsonl")
    assert isinstance(sample, Sample)
    seen: list[str] = []

    def reply(request: JudgeRequest) -> str:
        seen.append(request.messages[-1].content)
        return '{"verdict": "blocked"}'

    result = rubricate.grade([sample.with_response("r")], ScriptedJudge(reply=reply))
    blocked = json.loads(
        (DATA / "drb2" / "tasks_and_rubrics_sample.jsonl").read_text("utf-8").splitlines()[0]
    )["content"]["blocked"]
    assert all(blocked["title"] in text and blocked["urls"][0] in text for text in seen)
    assert result.results[0].native["blocked_rate"] == 1.0
    assert result.results[0].score == 0.0


def test_prbench_normalized_and_clipped_points_match_its_util() -> None:
    path = DATA / "prbench" / "prbench_sample.jsonl"

    def met(title: str) -> bool:
        return _pick(title, 2) == 1

    results, summary = _grade(path, "prbench", lambda text: {"criteria_met": met(text)})
    normalized, clipped = [], []
    for record, result in zip(_records(path), results, strict=True):
        weights, points = [], 0.0
        for item in record["rubric"]:
            notes = item["annotations"]
            weight = notes[notes["weight_class"].replace(" ", "_") + "_weight"]
            weights.append(weight)
            points += weight if met(item["title"]) else 0.0
        low = sum(w for w in weights if w < 0)
        high = sum(w for w in weights if w > 0)
        normalized.append((points - low) / (high - low))
        clipped.append(points / high)
        assert result.native_score == pytest.approx(normalized[-1])
        assert result.native["clipped"] == pytest.approx(clipped[-1])
        assert result.score == pytest.approx(clipped[-1])  # healthbench method: same formula
    run = _native(summary, "prbench")
    assert run.score == pytest.approx(np.mean(normalized))
    assert run.parts["clipped"] == pytest.approx(np.mean(clipped))


def test_researchrubrics_compliance_matches_its_script() -> None:
    path = DATA / "researchrubrics" / "researchrubrics_sample.jsonl"

    def verdict(text: str) -> str:
        return ("Satisfied", "Not Satisfied")[_pick(text, 2)]

    results, summary = _grade(path, "researchrubrics", lambda text: {"verdict": verdict(text)})
    compliance = []
    for record, result in zip(_records(path), results, strict=True):
        scores = [1.0 if verdict(r["criterion"]) == "Satisfied" else 0.0 for r in record["rubrics"]]
        weights = [r["weight"] for r in record["rubrics"]]
        compliance.append(
            sum(s * w for s, w in zip(scores, weights, strict=True))
            / sum(w for w in weights if w > 0)
        )
        assert result.native_score == pytest.approx(compliance[-1])
        assert set(result.axes) == {r["axis"] for r in record["rubrics"]}
    run = _native(summary, "researchrubrics")
    assert run.score == pytest.approx(sum(compliance) / len(compliance))


def test_researchqa_coverage_matches_its_script() -> None:
    path = DATA / "researchqa" / "researchqa_sample.json"
    words = ("Not at all", "Barely", "Moderately", "Mostly", "Completely")
    to_score = {w: i + 1 for i, w in enumerate(words)}  # compute_coverage.convert_text_to_score

    def rating(item: str) -> str:
        return words[_pick(item, 5)]

    results, summary = _grade(path, "researchqa", lambda text: {"score": to_score[rating(text)]})
    coverages = []
    for record, result in zip(json.loads(path.read_text("utf-8")), results, strict=True):
        normalised = [(to_score[rating(r["rubric_item"])] - 1) / 4 for r in record["rubric"]]
        coverages.append(sum(normalised) / len(normalised))
        assert result.native_score == pytest.approx(coverages[-1])
        assert result.score == pytest.approx(coverages[-1])
    run = _native(summary, "researchqa")
    assert run.score == pytest.approx(sum(coverages) / len(coverages))


def _healthbench_score(items: list[dict[str, Any]], met: list[bool]) -> float | None:
    possible = sum(i["points"] for i in items if i["points"] > 0)
    if possible == 0:
        return None
    return sum(i["points"] for i, m in zip(items, met, strict=True) if m) / possible


def test_healthbench_themes_and_clusters_match_simple_evals() -> None:
    path = DATA / "healthbench" / "healthbench_sample.jsonl"

    def met(text: str) -> bool:
        return _pick(text, 3) != 0

    results, summary = _grade(path, "healthbench", lambda text: {"criteria_met": met(text)})
    # simple-evals healthbench_eval.py: an example tag gets the overall score, a rubric tag the
    # score over its criteria (left out without positive points); per tag the clipped mean.
    expected_by_tag: dict[str, list[float]] = {}
    for record, result in zip(_records(path), results, strict=True):
        items = record["rubrics"]
        flags = [met(_first_line(i["criterion"])) for i in items]
        overall = _healthbench_score(items, flags)
        assert overall is not None and result.score == pytest.approx(overall)
        metrics = dict.fromkeys(record["example_tags"], overall)
        for tag in {t for i in items for t in i["tags"]}:
            chosen = [(i, f) for i, f in zip(items, flags, strict=True) if tag in i["tags"]]
            score = _healthbench_score([i for i, _ in chosen], [f for _, f in chosen])
            if score is not None:
                metrics[tag] = score
        for tag, value in metrics.items():
            expected_by_tag.setdefault(tag, []).append(value)
        clusters = {t: v for t, v in metrics.items() if t.startswith(("cluster:", "level:"))}
        assert {t: v for t, v in result.clusters.items() if v is not None} == pytest.approx(
            clusters
        )
    for prefixes, groups in (
        (("theme:",), summary.themes),
        (("cluster:", "level:"), summary.clusters),
    ):
        expected = {t: v for t, v in expected_by_tag.items() if t.startswith(prefixes)}
        assert set(groups) == set(expected) and groups
        for tag, values in expected.items():
            group = groups[tag]
            assert group.n_samples == len(values)
            assert group.score == pytest.approx(float(np.clip(np.mean(values), 0, 1)))
            # the seeded bootstrap of the run score, over this tag's samples
            run = summarize(values)
            assert (group.bootstrap_std, group.ci95) == (run.bootstrap_std, run.ci95)
    assert any(t.startswith("level:") for t in summary.clusters)
    assert max(g.n_samples for g in summary.themes.values()) > 1
