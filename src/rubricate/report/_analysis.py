"""The figures of one run, each computed by the scoring core or the meta statistics.

Nothing here scores a verdict itself: per-sample scores are the recorded ones, tag scores come
from ``scoring.score_sample``, means and intervals from ``scoring.summarize`` (clipped mean,
seeded bootstrap: the same numbers as summary.json), criterion values from
``scoring.criterion_value``, correlations from ``meta.pearson`` and the support of each
quoted verdict from ``engine.evidence_support`` (as grading counts it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rubricate.engine import evidence_support
from rubricate.meta import pearson, sample_tags
from rubricate.results import SampleResult
from rubricate.runs import result_rubric
from rubricate.scoring import METHODS, Method, criterion_value, score_sample, summarize
from rubricate.types import Verdict

__all__ = [
    "CriterionRow",
    "EvidenceCounts",
    "GroupRow",
    "calibration_bins",
    "criterion_rows",
    "evidence_counts",
    "group_rows",
    "result_verdicts",
    "sample_tag_scores",
]


@dataclass(frozen=True, slots=True)
class GroupRow:
    """One line of a score table: n scored samples, clipped mean, bootstrap 95% interval."""

    name: str
    n: int
    mean: float | None
    ci95: tuple[float, float] | None


@dataclass(frozen=True, slots=True)
class CriterionRow:
    """A criterion text across the samples that carry it (the rubric author's view).

    ``met_rate`` is the mean criterion value over gradable verdicts (partial = 0.5,
    ordinal level / top); ``corr`` is Pearson's r of that value with the sample score,
    ``None`` when either is constant.
    """

    text: str
    n: int
    points: tuple[float, ...]
    met_rate: float | None
    variance: float | None
    corr: float | None
    errors: int
    cannot_assess: int

    @property
    def pitfall(self) -> bool:
        return all(p < 0 for p in self.points)


@dataclass(frozen=True, slots=True)
class EvidenceCounts:
    """How the met verdicts of a run graded with ``--evidence`` were supported.

    ``verified``, ``unverified`` and ``missing`` count as summary.json's ``evidence_*``
    counts do: by the judge's own label, before ``--evidence strict`` overrode any.
    ``downgraded`` counts the verdicts ``strict`` turned from met to not_met.
    """

    verified: int
    unverified: int
    missing: int
    downgraded: int


def result_verdicts(result: SampleResult) -> dict[str, Verdict]:
    return {
        r.criterion_id: Verdict(r.criterion_id, r.verdict, r.probability, r.level, r.explanation)
        for r in result.verdicts
    }


def evidence_counts(results: Iterable[SampleResult]) -> EvidenceCounts | None:
    """The support of every met verdict in ``results``; ``None`` when no verdict carries
    evidence (the run did not ask for it)."""
    tally = {"verified": 0, "unverified": 0, "missing": 0}
    asked = False
    downgraded = 0
    for result in results:
        for record in result.verdicts:
            if record.evidence is None:
                continue
            asked = True
            status = evidence_support(record)
            if status is not None:
                tally[status] += 1
            if record.judged is not None and record.judged != record.verdict:
                downgraded += 1
    return EvidenceCounts(**tally, downgraded=downgraded) if asked else None


def sample_tag_scores(result: SampleResult) -> dict[str, float]:
    """A stored result's score per tag, from the scoring core: each ``axis:NAME`` and each
    cluster tag (``cluster:...``, ``level:...``) over the criteria carrying it, and each
    example-level tag (``theme:...``) the sample's recorded score (gates applied, as in the
    overall mean). A tag on both the example and a criterion keeps the criterion's meaning.
    """
    method: Method = result.method if result.method in METHODS else "healthbench"
    scored = score_sample(result_rubric(result), result_verdicts(result), method=method)
    scores = {f"axis:{axis}": value for axis, value in scored.axes.items() if value is not None}
    scores.update((tag, value) for tag, value in scored.clusters.items() if value is not None)
    if result.score is not None:
        for tag in sample_tags(result):
            scores.setdefault(tag, result.score)
    return scores


def group_rows(values: Mapping[str, Iterable[float | None]], seed: int = 0) -> list[GroupRow]:
    """A row per group: the scoring core's clipped mean and bootstrap interval."""
    rows = []
    for name, scores in values.items():
        run = summarize(list(scores), seed=seed)
        rows.append(GroupRow(name, run.n_scored, run.score, run.ci95))
    return rows


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def criterion_rows(results: Iterable[SampleResult]) -> list[CriterionRow]:
    """Criteria grouped by text (whitespace and case folded), most frequent first."""
    texts: dict[str, str] = {}
    points: dict[str, set[float]] = {}
    values: dict[str, list[tuple[float, float | None]]] = {}
    errors: dict[str, int] = {}
    cannot: dict[str, int] = {}
    for result in results:
        rubric = result_rubric(result)
        verdicts = result_verdicts(result)
        for criterion, record in zip(rubric.criteria, result.verdicts, strict=True):
            key = _key(criterion.text)
            texts.setdefault(key, criterion.text)
            points.setdefault(key, set()).add(criterion.points)
            errors.setdefault(key, 0)
            cannot.setdefault(key, 0)
            value = criterion_value(criterion, verdicts[criterion.id])
            if value is None:
                if record.verdict == "cannot_assess":
                    cannot[key] += 1
                else:
                    errors[key] += 1
                continue
            values.setdefault(key, []).append((value, result.score))
    rows = []
    for key, text in texts.items():
        pairs = values.get(key, [])
        own = np.array([v for v, _ in pairs], dtype=float)
        scored = [(v, s) for v, s in pairs if s is not None]
        corr = (
            pearson(np.array([v for v, _ in scored]), np.array([s for _, s in scored]))
            if scored
            else None
        )
        rows.append(
            CriterionRow(
                text=text,
                n=len(pairs) + errors[key] + cannot[key],
                points=tuple(sorted(points[key])),
                met_rate=float(own.mean()) if own.size else None,
                variance=float(own.var()) if own.size else None,
                corr=corr,
                errors=errors[key],
                cannot_assess=cannot[key],
            )
        )
    rows.sort(key=lambda row: (-row.n, -(row.variance or 0.0), row.text))
    return rows


def calibration_bins(results: Iterable[SampleResult], bins: int = 10) -> list[dict[str, Any]]:
    """Reliability bins of P(met) against the verdict recorded with it (binary met/not_met).

    Empty when no verdict carries a probability. Without human labels the verdict is the
    only outcome there is; a meta-evaluation against labels is the stricter check.
    """
    probabilities: list[float] = []
    outcomes: list[float] = []
    for result in results:
        for record in result.verdicts:
            if record.probability is not None and record.verdict in ("met", "not_met"):
                probabilities.append(record.probability)
                outcomes.append(1.0 if record.verdict == "met" else 0.0)
    if not probabilities:
        return []
    p = np.array(probabilities)
    y = np.array(outcomes)
    index = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        chosen = index == b
        if chosen.any():
            out.append(
                {
                    "low": b / bins,
                    "high": (b + 1) / bins,
                    "n": int(chosen.sum()),
                    "mean_p": float(p[chosen].mean()),
                    "met_rate": float(y[chosen].mean()),
                }
            )
    return out
