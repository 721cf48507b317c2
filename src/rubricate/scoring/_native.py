"""Scores on each benchmark's own scale, computed as the benchmark's own script does.

A reader marks a rubric with ``metadata["native"] = SCHEME``; ``native_sample_score`` then
gives the sample's score on that benchmark's scale beside rubricate's [0, 1] score, and
``summarize_native`` the run-level figure. Criteria whose verdict is ``error`` or
``cannot_assess`` are left out of both numerator and denominator, as everywhere in rubricate
(the benchmarks' scripts drop unparseable judgements the same way, except PRBench, which
counts a failed grading call as "not met").

Schemes and their sources:
- ``writingbench`` (X-PLUG/WritingBench ``calculate_scores.py``): each criterion scored 1-10;
  a sample's score is the mean of its criterion scores; the run's ``Overall`` is the sum of
  all criterion scores over their count (a mean over criteria, not over samples).
- ``drb2`` (DeepResearch Bench II ``aggregate_scores.py``): items score 1 (met), 0 (not met)
  or -1 (blocked); per dimension the fraction of items scoring 1, ``total`` the fraction over
  all items, ``blocked_rate`` the fraction scoring -1; the run averages each over tasks.
- ``prbench`` (scaleapi/PRBench ``util.py``): p = sum of weights of met criteria;
  ``normalized`` = (p - sum of negative weights) / (sum of positive - sum of negative
  weights), ``clipped`` = p / sum of positive weights; the run takes plain means.
- ``researchrubrics`` (scaleapi/researchrubrics ``calculate_compliance_score.py``):
  sum(score * weight) / sum of positive weights, score 1 / 0.5 / 0 for Satisfied /
  Partially Satisfied / Not Satisfied; the run takes the plain mean.
- ``researchqa`` (ResearchQA ``compute_coverage.py``): ratings 1-5 per rubric item;
  coverage = mean of (rating - 1) / 4; the run takes the plain mean.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from rubricate.rubric import Criterion, Rubric
from rubricate.types import Verdict

NativeScheme = Literal["writingbench", "drb2", "prbench", "researchrubrics", "researchqa"]
NATIVE_SCHEMES: tuple[str, ...] = (
    "writingbench",
    "drb2",
    "prbench",
    "researchrubrics",
    "researchqa",
)
DRB2_DIMENSIONS: tuple[tuple[str, str], ...] = (
    ("info_recall", "inforecall"),
    ("analysis", "analysis"),
    ("presentation", "presentation"),
)

__all__ = [
    "DRB2_DIMENSIONS",
    "NATIVE_SCHEMES",
    "NativeRunScore",
    "NativeScheme",
    "NativeScore",
    "native_sample_score",
    "summarize_native",
]


@dataclass(frozen=True, slots=True)
class NativeScore:
    """One sample's score on its benchmark's scale.

    Attributes:
        scheme: which benchmark's definition (``NATIVE_SCHEMES``).
        score: the benchmark's headline number for the sample; ``None`` if nothing counted.
        parts: the benchmark's other per-sample figures (DRB-II dimensions and
            ``blocked_rate``, PRBench ``clipped``, WritingBench ``criteria`` counted).
    """

    scheme: str
    score: float | None
    parts: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NativeRunScore:
    """Run-level figures on the benchmark's scale, aggregated as its script aggregates them."""

    scheme: str
    score: float | None
    parts: dict[str, float | None]
    n_scored: int


def _counted(rubric: Rubric, verdicts: Mapping[str, Verdict]) -> list[tuple[Criterion, Verdict]]:
    pairs = []
    for criterion in rubric.criteria:
        verdict = verdicts.get(criterion.id)
        if verdict is not None and verdict.gradable:
            pairs.append((criterion, verdict))
    return pairs


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _level_value(criterion: Criterion, verdict: Verdict) -> float | None:
    values = criterion.scale.values
    if verdict.level is None or not values or not 0 <= verdict.level < len(values):
        return None
    return values[verdict.level]


def _writingbench(pairs: list[tuple[Criterion, Verdict]]) -> NativeScore:
    scores = [v for c, verdict in pairs if (v := _level_value(c, verdict)) is not None]
    return NativeScore("writingbench", _mean(scores), {"criteria": float(len(scores))})


def _researchqa(pairs: list[tuple[Criterion, Verdict]]) -> NativeScore:
    ratings = [v for c, verdict in pairs if (v := _level_value(c, verdict)) is not None]
    return NativeScore("researchqa", _mean([(r - 1.0) / 4.0 for r in ratings]))


def _drb2(pairs: list[tuple[Criterion, Verdict]]) -> NativeScore:
    parts: dict[str, float | None] = {}
    ones = blocked = items = 0
    for dimension, out_key in DRB2_DIMENSIONS:
        labels = [v.label for c, v in pairs if dimension in c.axes]
        dimension_ones = labels.count("met")
        parts[out_key] = dimension_ones / len(labels) if labels else None
        ones += dimension_ones
        blocked += labels.count("blocked")
        items += len(labels)
    parts["total"] = ones / items if items else None
    parts["blocked_rate"] = blocked / items if items else None
    return NativeScore("drb2", parts["total"], parts)


def _prbench(pairs: list[tuple[Criterion, Verdict]]) -> NativeScore:
    achieved = sum(c.points for c, v in pairs if v.label == "met")
    positive = sum(c.points for c, _ in pairs if c.points > 0)
    negative = sum(c.points for c, _ in pairs if c.points < 0)
    normalized = (achieved - negative) / (positive - negative) if positive - negative > 0 else None
    clipped = achieved / positive if positive > 0 else None
    return NativeScore("prbench", normalized, {"normalized": normalized, "clipped": clipped})


_COMPLIANCE = {"met": 1.0, "partial": 0.5, "not_met": 0.0}


def _researchrubrics(pairs: list[tuple[Criterion, Verdict]]) -> NativeScore:
    positive = sum(c.points for c, _ in pairs if c.points > 0)
    achieved = sum(c.points * _COMPLIANCE.get(v.label, 0.0) for c, v in pairs)
    # The script scores a task with no positive weight 0.0; here that sample has no score.
    return NativeScore("researchrubrics", achieved / positive if positive > 0 else None)


_SAMPLE_SCORERS = {
    "writingbench": _writingbench,
    "drb2": _drb2,
    "prbench": _prbench,
    "researchrubrics": _researchrubrics,
    "researchqa": _researchqa,
}


def native_sample_score(rubric: Rubric, verdicts: Mapping[str, Verdict]) -> NativeScore | None:
    """The sample's score on the scale named by ``rubric.metadata["native"]``, else ``None``.

    Raises ``ValueError`` for a scheme rubricate does not know.
    """
    scheme = rubric.metadata.get("native")
    if scheme is None:
        return None
    scorer = _SAMPLE_SCORERS.get(str(scheme))
    if scorer is None:
        raise ValueError(
            f"unknown native scoring scheme '{scheme}' (expected one of {', '.join(NATIVE_SCHEMES)})"
        )
    return scorer(_counted(rubric, verdicts))


def summarize_native(scores: Iterable[NativeScore | None]) -> NativeRunScore | None:
    """Run-level native figures; ``None`` when no sample has a native score.

    Raises ``ValueError`` when the samples mix schemes: one figure never mixes benchmarks.
    """
    present = [s for s in scores if s is not None]
    if not present:
        return None
    schemes = {s.scheme for s in present}
    if len(schemes) > 1:
        raise ValueError(f"native scores of different benchmarks in one run: {sorted(schemes)}")
    scheme = present[0].scheme
    scored = [s for s in present if s.score is not None]
    if scheme == "writingbench":
        counts = [(s.score, s.parts.get("criteria") or 0.0) for s in scored]
        total = sum(n for _, n in counts)
        overall = (
            sum(score * n for score, n in counts if score is not None) / total if total else None
        )
        return NativeRunScore(scheme, overall, {}, len(scored))
    keys = dict.fromkeys(k for s in present for k in s.parts if k != "criteria")
    parts = {
        key: _mean([v for s in present if (v := s.parts.get(key)) is not None]) for key in keys
    }
    return NativeRunScore(
        scheme, _mean([s.score for s in scored if s.score is not None]), parts, len(scored)
    )
