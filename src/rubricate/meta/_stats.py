"""Agreement and correlation statistics with seeded percentile-bootstrap intervals (numpy only).

Every function takes plain arrays and returns plain floats, ``None`` where a statistic is
undefined (a constant input, an empty class), never a silent 0. Intervals are the 2.5th and
97.5th percentiles of the statistic over ``n_resamples`` resamples of the units (items,
samples or pairs) drawn with ``numpy.random.default_rng(seed)``; resamples on which the
statistic is undefined are left out of the percentiles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "BinaryCounts",
    "Estimate",
    "average_ranks",
    "binary_metrics",
    "bootstrap_interval",
    "kendall_tau_b",
    "paired_mean_difference",
    "pearson",
    "spearman",
]

FloatArray = npt.NDArray[np.float64]
N_RESAMPLES = 1000


@dataclass(frozen=True, slots=True)
class Estimate:
    """A statistic and its bootstrap 95% interval (``None`` when undefined)."""

    value: float | None
    ci95: tuple[float, float] | None

    def as_dict(self) -> dict[str, float | list[float] | None]:
        return {"value": self.value, "ci95": list(self.ci95) if self.ci95 else None}


@dataclass(frozen=True, slots=True)
class BinaryCounts:
    """Per-unit 2x2 counts of judge ``met`` against label ``met``: arrays of equal length.

    ``tp``: judge met, label met; ``fp``: judge met, label not met; ``fn``: judge not met,
    label met; ``tn``: both not met. One unit may carry several counts (one per labeller).
    """

    tp: FloatArray
    fp: FloatArray
    fn: FloatArray
    tn: FloatArray

    def __len__(self) -> int:
        return int(self.tp.size)


def _ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    out = np.full(np.shape(numerator), np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _f1(precision: FloatArray, recall: FloatArray) -> FloatArray:
    # simple-evals: F1 is undefined when precision or recall is, and 0 when both are 0.
    total = precision + recall
    out = np.where(total == 0, 0.0, np.nan)
    np.divide(2 * precision * recall, total, out=out, where=total > 0)
    return np.where(np.isnan(precision) | np.isnan(recall), np.nan, out)


def _metric_arrays(
    tp: FloatArray, fp: FloatArray, fn: FloatArray, tn: FloatArray
) -> dict[str, FloatArray]:
    n = tp + fp + fn + tn
    precision_met = _ratio(tp, tp + fp)
    recall_met = _ratio(tp, tp + fn)
    precision_not_met = _ratio(tn, tn + fn)
    recall_not_met = _ratio(tn, tn + fp)
    observed = _ratio(tp + tn, n)
    expected = _ratio((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn), n * n)
    return {
        "accuracy": observed,
        "balanced_f1": (_f1(precision_met, recall_met) + _f1(precision_not_met, recall_not_met))
        / 2,
        "kappa": _ratio(observed - expected, 1 - expected),
        "precision_met": precision_met,
        "recall_met": recall_met,
        "leniency": _ratio(tp + fp, n) - _ratio(tp + fn, n),
    }


def _scalar(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _percentiles(values: FloatArray) -> tuple[float, float] | None:
    defined = values[~np.isnan(values)]
    if defined.size == 0:
        return None
    low, high = np.percentile(defined, [2.5, 97.5])
    return float(low), float(high)


def _resample_weights(n_units: int, n_resamples: int, seed: int) -> FloatArray:
    """How often each unit is drawn in each resample: shape (n_resamples, n_units)."""
    rng = np.random.default_rng(seed)
    weights = np.empty((n_resamples, n_units))
    for row in range(n_resamples):
        weights[row] = np.bincount(rng.integers(0, n_units, size=n_units), minlength=n_units)
    return weights


def binary_metrics(
    counts: BinaryCounts, *, n_resamples: int = N_RESAMPLES, seed: int = 0
) -> dict[str, Estimate]:
    """Accuracy, balanced F1, Cohen's kappa, precision and recall of ``met``, and leniency.

    Balanced F1 is simple-evals' HealthBench meta-evaluation ``f1_balanced``: the mean of
    the F1 of ``met`` and the F1 of ``not_met`` (macro F1 over the two classes), each from
    precision and recall over all (judge, labeller) pairs. Leniency is the judge's ``met``
    rate minus the labels' ``met`` rate. Intervals resample units (items), keeping all of
    an item's labels together.
    """
    totals = [np.array([part.sum()]) for part in (counts.tp, counts.fp, counts.fn, counts.tn)]
    point = {name: _scalar(v[0]) for name, v in _metric_arrays(*totals).items()}
    if len(counts) == 0 or n_resamples <= 0:
        return {name: Estimate(value, None) for name, value in point.items()}
    weights = _resample_weights(len(counts), n_resamples, seed)
    resampled = _metric_arrays(
        weights @ counts.tp, weights @ counts.fp, weights @ counts.fn, weights @ counts.tn
    )
    return {name: Estimate(point[name], _percentiles(resampled[name])) for name in point}


def average_ranks(values: FloatArray) -> FloatArray:
    """Ranks from 1, tied values sharing the mean of their ranks (as for Spearman)."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    ranks = np.empty(values.size)
    start = 0
    while start < values.size:
        stop = start + 1
        while stop < values.size and ordered[stop] == ordered[start]:
            stop += 1
        ranks[order[start:stop]] = (start + stop + 1) / 2  # mean of ranks start+1 .. stop
        start = stop
    return ranks


def pearson(x: FloatArray, y: FloatArray) -> float | None:
    """Pearson's r; ``None`` for fewer than two points or a constant input."""
    if x.size < 2:
        return None
    dx = x - x.mean()
    dy = y - y.mean()
    denominator = float(np.sqrt((dx * dx).sum() * (dy * dy).sum()))
    if denominator == 0:
        return None
    return float(np.clip((dx * dy).sum() / denominator, -1.0, 1.0))


def spearman(x: FloatArray, y: FloatArray) -> float | None:
    """Spearman's rho: Pearson's r of the average ranks."""
    return pearson(average_ranks(x), average_ranks(y))


def _tied_pairs(*columns: FloatArray) -> int:
    """Pairs equal in every given column."""
    _, counts = np.unique(np.stack(columns, axis=1), axis=0, return_counts=True)
    return int((counts * (counts - 1) // 2).sum())


def _inversions(ranks: npt.NDArray[np.int64]) -> int:
    """Pairs i < j with ranks[i] > ranks[j], by a Fenwick tree over dense ranks 1..max."""
    size = int(ranks.max()) if ranks.size else 0
    tree = [0] * (size + 1)
    inversions = 0
    for seen, rank in enumerate(ranks.tolist()):
        index, at_most = rank, 0
        while index > 0:
            at_most += tree[index]
            index -= index & -index
        inversions += seen - at_most
        index = rank
        while index <= size:
            tree[index] += 1
            index += index & -index
    return inversions


def kendall_tau_b(x: FloatArray, y: FloatArray) -> float | None:
    """Kendall's tau-b: (concordant - discordant) / sqrt(pairs untied in x * pairs untied in y).

    Exact, in O(n log n): after sorting by (x, y), the discordant pairs are the strict
    inversions of y (Knight's method).
    """
    if x.size < 2:
        return None
    n_pairs = x.size * (x.size - 1) // 2
    tied_x, tied_y, tied_both = _tied_pairs(x), _tied_pairs(y), _tied_pairs(x, y)
    untied = float(n_pairs - tied_x) * float(n_pairs - tied_y)
    if untied == 0:
        return None
    order = np.lexsort((y, x))
    dense = np.unique(y, return_inverse=True)[1].reshape(-1) + 1
    discordant = _inversions(dense[order].astype(np.int64))
    score = n_pairs - tied_x - tied_y + tied_both - 2 * discordant
    return float(score / np.sqrt(untied))


def bootstrap_interval(
    statistic: Callable[[FloatArray, FloatArray], float | None],
    x: FloatArray,
    y: FloatArray,
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> Estimate:
    """``statistic(x, y)`` with the percentile interval over resampled (x, y) pairs."""
    value = statistic(x, y)
    if x.size == 0 or n_resamples <= 0:
        return Estimate(value, None)
    rng = np.random.default_rng(seed)
    draws = np.full(n_resamples, np.nan)
    for row in range(n_resamples):
        index = rng.integers(0, x.size, size=x.size)
        result = statistic(x[index], y[index])
        if result is not None:
            draws[row] = result
    return Estimate(value, _percentiles(draws))


def paired_mean_difference(
    differences: list[FloatArray], *, n_resamples: int = N_RESAMPLES, seed: int = 0
) -> Estimate:
    """Mean of all differences, with an interval that resamples the groups (clusters).

    ``differences[i]`` holds the paired differences that belong to unit i (one sample's
    probe variants, say); a resample draws units with replacement and keeps each unit's
    differences together, so variants of one sample do not pass for independent evidence.
    """
    kept = [d for d in differences if d.size]
    if not kept:
        return Estimate(None, None)
    sums = np.array([d.sum() for d in kept])
    sizes = np.array([float(d.size) for d in kept])
    value = float(sums.sum() / sizes.sum())
    if n_resamples <= 0:
        return Estimate(value, None)
    weights = _resample_weights(len(kept), n_resamples, seed)
    return Estimate(value, _percentiles((weights @ sums) / (weights @ sizes)))
