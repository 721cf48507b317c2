"""The one scoring core: verdicts in, sample and run scores out.

Pure and synchronous. Grading, ``rubricate score``, rewards and meta-evaluation all
call these functions, so their numbers cannot drift apart.

Definitions (HealthBench, PRBench and weighted-mean styles):
- criterion value v in [0, 1]: met 1, not met 0, partial 0.5, ordinal level / (n - 1);
  with ``soft=True`` a binary verdict's probability P(met) replaces 0/1 when known.
- ``healthbench``: sum(points * v) / sum(positive points); a met pitfall subtracts.
  Not clipped per sample; the run mean is clipped to [0, 1].
- ``normalized``: (p - neg) / (pos - neg) with p = sum(points * v), pos = sum of positive
  points, neg = sum of negative points (<= 0). In [0, 1].
- ``weighted_mean``: an alias of ``normalized``, kept for old configurations. It was
  defined as sum(|points| * g) / sum(|points|) with g = v for a positive criterion and
  1 - v for a pitfall, which is the same number: with P = positive and N = pitfall
  criteria, p - neg = sum_P(points * v) + sum_N(|points| * (1 - v)) and
  pos - neg = sum(|points|). PRBench's ``get_normalized_points`` is this formula.
- ``blocked`` (DeepResearch Bench II, ``blocking`` scale) is worth 0 like ``not_met``;
  how often it happens is reported apart (``rubricate.scoring.native_sample_score``).
- Per-axis and per-cluster breakdowns: the same score over only the criteria tagged
  ``axis:NAME`` (keyed by NAME), or ``cluster:...`` / ``level:...`` (keyed by the whole tag,
  as HealthBench's reference reports its consensus clusters); gates do not apply to them.
Criteria judged ``cannot_assess`` or ``error`` leave numerator and denominator; a
sample (or axis, or cluster) with nothing left to score gets ``None``, never 0.
A gate (``required``) fails when a positive required criterion is not fully met, or a
required pitfall is met at all; the sample score is then the rubric's ``gate_floor``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import numpy as np

from rubricate.errors import InputError
from rubricate.rubric import Criterion, Rubric
from rubricate.scoring._native import NativeScore, native_sample_score
from rubricate.types import GRADABLE_LABELS, VERDICT_LABELS, Verdict

Method = Literal["healthbench", "normalized", "weighted_mean"]
METHODS: tuple[str, ...] = ("healthbench", "normalized", "weighted_mean")
# Rubric tags that get their own breakdown beside the axes (HealthBench Consensus).
CLUSTER_PREFIXES: tuple[str, ...] = ("cluster:", "level:")

__all__ = [
    "CLUSTER_PREFIXES",
    "METHODS",
    "Method",
    "RunScore",
    "SampleScore",
    "check_verdict",
    "criterion_value",
    "score_criteria",
    "score_sample",
    "summarize",
]


_KNOWN_LABELS = frozenset(VERDICT_LABELS)


def check_verdict(criterion: Criterion, verdict: Verdict) -> None:
    """Raise ``InputError`` unless ``verdict`` is one ``criterion``'s scale can give.

    Unknown labels, ordinal levels outside 0..n-1, ``partial`` on a binary criterion and
    P(met) outside [0, 1] are refused: clipping or ignoring them would invent a score.
    """
    label, kind, level, probability = (
        verdict.label,
        criterion.scale.kind,
        verdict.level,
        verdict.probability,
    )
    # Every verdict of every run passes here: the common one (a binary criterion, a met or
    # not_met without a level) is told apart first, without building a message.
    if (
        kind == "binary"
        and level is None
        and (label == "met" or label == "not_met")
        and (
            probability is None
            or (isinstance(probability, (int, float)) and 0.0 <= probability <= 1.0)
        )
    ):
        return
    field = f"verdicts.{criterion.id}"
    if label not in _KNOWN_LABELS:
        raise InputError(
            f"unknown verdict '{label}' (expected one of {', '.join(VERDICT_LABELS)})",
            field=field,
        )
    if kind == "ordinal" and label in GRADABLE_LABELS:
        top = len(criterion.scale.levels) - 1
        if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= top:
            raise InputError(f"level {level!r} is outside this criterion's 0..{top}", field=field)
    elif kind != "ordinal" and level is not None:
        raise InputError(f"level {level!r} given for a {kind} criterion", field=field)
    if label == "partial" and kind == "binary":
        raise InputError("verdict 'partial' on a binary criterion", field=field)
    if label == "blocked" and kind != "blocking":
        raise InputError(f"verdict 'blocked' on a {kind} criterion", field=field)
    if probability is not None and not (
        isinstance(probability, (int, float)) and 0.0 <= probability <= 1.0
    ):
        raise InputError(f"P(met) {probability!r} is outside [0, 1]", field=field)


def criterion_value(criterion: Criterion, verdict: Verdict, *, soft: bool = False) -> float | None:
    """The verdict's value in [0, 1], or ``None`` when it does not count (cannot_assess, error).

    Raises ``InputError`` for a verdict the criterion's scale cannot give (``check_verdict``).
    """
    check_verdict(criterion, verdict)
    label = verdict.label
    if label == "blocked":
        return 0.0
    if label not in GRADABLE_LABELS:
        return None
    if criterion.scale.kind == "ordinal":
        level = verdict.level or 0  # check_verdict made sure it is an int in range
        return level / (len(criterion.scale.levels) - 1)
    if soft and verdict.probability is not None and label in ("met", "not_met"):
        return verdict.probability
    if label == "met":
        return 1.0
    if label == "partial":
        return 0.5
    return 0.0


def score_criteria(values: Sequence[tuple[float, float]], method: Method) -> float | None:
    """Score (points, value) pairs of the criteria that count; ``None`` if there is nothing to score."""
    # Sums of lists, not of generators: the same additions in the same order, made faster.
    if method == "healthbench":
        positive = sum([points for points, _ in values if points > 0])
        if positive <= 0:
            return None
        return sum([points * value for points, value in values]) / positive
    if method in ("normalized", "weighted_mean"):  # one formula: see the module docstring
        positive = sum([points for points, _ in values if points > 0])
        negative = sum([points for points, _ in values if points < 0])
        span = positive - negative
        if span <= 0:
            return None
        achieved = sum([points * value for points, value in values])
        return (achieved - negative) / span
    raise ValueError(f"unknown scoring method '{method}' (expected one of {', '.join(METHODS)})")


@dataclass(frozen=True, slots=True)
class SampleScore:
    """Score of one sample.

    Attributes:
        score: per-sample score (HealthBench: may fall outside [0, 1]); ``None`` if ungradable.
        axes: the same score recomputed over the criteria tagged ``axis:NAME``.
        clusters: the same score recomputed over the criteria carrying each
            ``cluster:...`` or ``level:...`` tag (keyed by the tag).
        gate_failed: ids of required criteria whose gate failed (score set to the floor).
        gate_unknown: ids of required criteria without a usable verdict.
        native: the score on the benchmark's own scale, when the rubric names one
            (``rubric.metadata["native"]``, see ``native_sample_score``).
    """

    score: float | None
    axes: dict[str, float | None] = field(default_factory=dict)
    clusters: dict[str, float | None] = field(default_factory=dict)
    gate_failed: tuple[str, ...] = ()
    gate_unknown: tuple[str, ...] = ()
    n_criteria: int = 0
    n_scored: int = 0
    n_cannot_assess: int = 0
    n_errors: int = 0
    native: NativeScore | None = None


@lru_cache(maxsize=4096)
def _cluster_tags(tags: tuple[str, ...]) -> tuple[str, ...]:
    """The cluster tags among ``tags``, each once (cached: rubrics repeat their tag sets)."""
    return tuple(dict.fromkeys(t for t in tags if t.startswith(CLUSTER_PREFIXES)))


def _gate_fails(criterion: Criterion, value: float) -> bool:
    return value < 1.0 if criterion.points >= 0 else value > 0.0


def score_sample(
    rubric: Rubric,
    verdicts: Mapping[str, Verdict],
    *,
    method: Method = "healthbench",
    soft: bool = False,
) -> SampleScore:
    """Score one sample's verdicts (keyed by criterion id) against its rubric.

    A criterion without a verdict counts as an error: it never silently scores 0.
    """
    values: list[tuple[float, float]] = []
    by_axis: dict[str, list[tuple[float, float]]] = {axis: [] for axis in rubric.axes}
    by_cluster: dict[str, list[tuple[float, float]]] = {}
    gate_failed: list[str] = []
    gate_unknown: list[str] = []
    n_cannot = n_errors = 0
    for criterion in rubric.criteria:
        verdict = verdicts.get(criterion.id)
        value = criterion_value(criterion, verdict, soft=soft) if verdict is not None else None
        # A cluster whose criteria all went unscored is still listed, as None (like an axis).
        clustered = (
            [by_cluster.setdefault(tag, []) for tag in _cluster_tags(criterion.tags)]
            if criterion.tags
            else ()
        )
        if value is None:
            if verdict is not None and verdict.label == "cannot_assess":
                n_cannot += 1
            else:
                n_errors += 1
            if criterion.required:
                gate_unknown.append(criterion.id)
            continue
        pair = (criterion.points, value)
        values.append(pair)
        for axis in criterion.axes:
            by_axis[axis].append(pair)
        for pairs in clustered:
            pairs.append(pair)
        if criterion.required:
            hard_value = (
                criterion_value(criterion, verdict) if soft and verdict is not None else value
            )
            if hard_value is not None and _gate_fails(criterion, hard_value):
                gate_failed.append(criterion.id)
    score = score_criteria(values, method)
    if gate_failed and score is not None:
        score = rubric.gate_floor
    axes = {axis: score_criteria(pairs, method) for axis, pairs in by_axis.items()}
    clusters = {tag: score_criteria(pairs, method) for tag, pairs in by_cluster.items()}
    return SampleScore(
        score=score,
        axes=axes,
        clusters=clusters,
        gate_failed=tuple(gate_failed),
        gate_unknown=tuple(gate_unknown),
        n_criteria=len(rubric.criteria),
        n_scored=len(values),
        n_cannot_assess=n_cannot,
        n_errors=n_errors,
        native=native_sample_score(rubric, verdicts),
    )


@dataclass(frozen=True, slots=True)
class RunScore:
    """Aggregate over samples. ``score`` is the mean clipped to [0, 1]; ``None`` if no sample scored."""

    score: float | None
    bootstrap_std: float | None
    ci95: tuple[float, float] | None
    n_samples: int
    n_scored: int
    axes: dict[str, float | None]


def _clipped_mean(values: np.ndarray) -> float:
    return float(np.clip(values.mean(), 0.0, 1.0))


def _bootstrap(
    values: np.ndarray, n_bootstrap: int, seed: int
) -> tuple[float | None, tuple[float, float] | None]:
    if values.size == 0 or n_bootstrap <= 0:
        return None, None
    rng = np.random.default_rng(seed)
    # Chunked so memory stays bounded for large runs.
    means = np.empty(n_bootstrap)
    chunk = max(1, 2_000_000 // max(1, values.size))
    for start in range(0, n_bootstrap, chunk):
        stop = min(n_bootstrap, start + chunk)
        index = rng.integers(0, values.size, size=(stop - start, values.size))
        means[start:stop] = np.clip(values[index].mean(axis=1), 0.0, 1.0)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(means.std()), (float(low), float(high))


def summarize(
    scores: Sequence[float | None],
    axes: Mapping[str, Sequence[float | None]] | None = None,
    *,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> RunScore:
    """Run-level score: clipped mean of the non-``None`` sample scores with a seeded bootstrap."""
    present = np.array([s for s in scores if s is not None], dtype=float)
    std, ci = _bootstrap(present, n_bootstrap, seed)
    axis_means: dict[str, float | None] = {}
    for axis, axis_scores in (axes or {}).items():
        axis_values = np.array([s for s in axis_scores if s is not None], dtype=float)
        axis_means[axis] = _clipped_mean(axis_values) if axis_values.size else None
    return RunScore(
        score=_clipped_mean(present) if present.size else None,
        bootstrap_std=std,
        ci95=ci,
        n_samples=len(scores),
        n_scored=int(present.size),
        axes=axis_means,
    )
