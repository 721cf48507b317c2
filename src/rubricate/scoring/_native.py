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
    "NativeTally",
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


class NativeTally:
    """Run-level native figures gathered one sample at a time, in memory flat in the run size.

    ``add`` each sample's ``NativeScore`` (or ``None``) as it is scored; ``result`` gives the
    run's figures, aggregated as the benchmark's script aggregates them:
    WritingBench the sum of all criterion scores over their count, the others the plain
    mean of the sample scores and of each part over the samples that have it.
    """

    __slots__ = ("_criteria", "_parts", "_scheme", "_sum", "_weighted", "n_scored")

    def __init__(self) -> None:
        self._scheme: str | None = None
        self.n_scored = 0
        self._sum = 0.0
        self._weighted = 0.0  # WritingBench: sum of score x criteria counted
        self._criteria = 0.0
        self._parts: dict[str, list[float]] = {}  # key -> [sum, count]

    @property
    def scheme(self) -> str | None:
        return self._scheme

    def add(self, score: NativeScore | None) -> None:
        """Count one sample. Raises ``ValueError`` for a second benchmark's score: one
        figure never mixes benchmarks."""
        if score is None:
            return
        if self._scheme is None:
            self._scheme = score.scheme
        elif score.scheme != self._scheme:
            raise ValueError(
                f"native scores of different benchmarks in one run: "
                f"{sorted({self._scheme, score.scheme})}"
            )
        if score.score is not None:
            self.n_scored += 1
            self._sum += score.score
            if score.scheme == "writingbench":
                counted = score.parts.get("criteria") or 0.0
                self._weighted += score.score * counted
                self._criteria += counted
        if score.scheme == "writingbench":
            return  # its run figure has no parts
        for key, value in score.parts.items():
            tally = self._parts.setdefault(key, [0.0, 0.0])
            if value is not None:
                tally[0] += value
                tally[1] += 1

    def result(self) -> NativeRunScore | None:
        """The run's figures; ``None`` when no sample had a native score."""
        if self._scheme is None:
            return None
        if self._scheme == "writingbench":
            overall = self._weighted / self._criteria if self._criteria else None
            return NativeRunScore(self._scheme, overall, {}, self.n_scored)
        parts = {key: (total / n if n else None) for key, (total, n) in self._parts.items()}
        mean = self._sum / self.n_scored if self.n_scored else None
        return NativeRunScore(self._scheme, mean, parts, self.n_scored)


def summarize_native(scores: Iterable[NativeScore | None]) -> NativeRunScore | None:
    """Run-level native figures (``NativeTally`` over ``scores``); ``None`` when no sample
    has a native score.

    Raises ``ValueError`` when the samples mix schemes: one figure never mixes benchmarks.
    """
    tally = NativeTally()
    for score in scores:
        tally.add(score)
    return tally.result()
