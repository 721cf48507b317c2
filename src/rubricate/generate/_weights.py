"""Verdict-matrix statistics for ``refine`` (pure numpy, no I/O).

The matrix ``G`` has one row per graded response and one column per criterion; each cell is
the criterion's goodness in [0, 1] (its value from the scoring core, flipped for pitfalls so
that higher is always better), or NaN where the verdict does not count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from rubricate.rubric import Criterion
from rubricate.scoring import criterion_value
from rubricate.types import Verdict

__all__ = [
    "correlation_weights",
    "goodness_matrix",
    "preference_differences",
    "redundant_pairs",
    "satisfaction_rates",
]


def goodness_matrix(
    criteria: Sequence[Criterion], verdicts: Sequence[Mapping[str, Verdict]]
) -> np.ndarray:
    """Rows: responses (one verdict mapping each); columns: ``criteria``."""
    matrix = np.full((len(verdicts), len(criteria)), np.nan)
    for row, by_id in enumerate(verdicts):
        for column, criterion in enumerate(criteria):
            verdict = by_id.get(criterion.id)
            value = criterion_value(criterion, verdict) if verdict is not None else None
            if value is not None:
                matrix[row, column] = 1.0 - value if criterion.is_pitfall else value
    return matrix


def satisfaction_rates(matrix: np.ndarray) -> np.ndarray:
    """Per criterion, the mean goodness over responses with a verdict (NaN when none)."""
    counts = np.sum(~np.isnan(matrix), axis=0)
    sums = np.nansum(matrix, axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def preference_differences(
    matrix: np.ndarray, preferences: Sequence[tuple[int, int]]
) -> np.ndarray:
    """Per criterion, the mean of goodness(better) - goodness(worse) over the labelled pairs.

    Pairs where either verdict is missing are left out; a criterion with no usable pair gets 0.
    """
    columns = matrix.shape[1]
    if not preferences:
        return np.zeros(columns)
    better = matrix[[b for b, _ in preferences]]
    worse = matrix[[w for _, w in preferences]]
    diff = better - worse
    counts = np.sum(~np.isnan(diff), axis=0)
    return np.where(counts > 0, np.nansum(diff, axis=0) / np.maximum(counts, 1), 0.0)


def _filled(matrix: np.ndarray) -> np.ndarray:
    # A missing verdict takes its column's mean: it then adds no covariance.
    means = np.nan_to_num(satisfaction_rates(matrix), nan=0.0)
    return np.where(np.isnan(matrix), means, matrix)


def redundant_pairs(matrix: np.ndarray, threshold: float) -> list[tuple[int, int, float]]:
    """Column pairs (i < j) whose verdict correlation is at least ``threshold``.

    Constant columns have no correlation and never pair.
    """
    filled = _filled(matrix)
    std = filled.std(axis=0)
    varying = np.flatnonzero(std > 1e-12)
    pairs: list[tuple[int, int, float]] = []
    if varying.size < 2:
        return pairs
    corr = np.corrcoef(filled[:, varying], rowvar=False)
    for a in range(varying.size):
        for b in range(a + 1, varying.size):
            if corr[a, b] >= threshold:
                pairs.append((int(varying[a]), int(varying[b]), float(corr[a, b])))
    return pairs


def correlation_weights(
    matrix: np.ndarray,
    differences: np.ndarray | None = None,
    *,
    ridge: float = 1e-3,
) -> np.ndarray | None:
    """Correlation-aware criterion weights, non-negative and summing to 1 (``None`` if all are 0).

    With preference ``differences`` d: w = clip((S + ridge * I)^-1 d, 0) with S the population
    covariance of the columns, so two criteria that move together share one criterion's weight
    and a criterion that does not separate the pairs gets none. Without labels, S is the
    correlation matrix (constant columns uncorrelated) and d is all ones. Then normalised.
    """
    filled = _filled(matrix)
    n = filled.shape[1]
    if n == 0:
        return None
    centred = filled - filled.mean(axis=0)
    covariance = centred.T @ centred / max(filled.shape[0], 1)
    if differences is None:
        std = np.sqrt(np.diag(covariance))
        scale = np.where(std > 1e-12, std, 1.0)
        system = covariance / np.outer(scale, scale)
        np.fill_diagonal(system, 1.0)
        target = np.ones(n)
    else:
        system, target = covariance, np.asarray(differences, dtype=float)
    solved = np.linalg.solve(system + ridge * np.eye(n), target)
    weights = np.clip(solved, 0.0, None)
    total = float(weights.sum())
    if total <= 0.0 or not np.isfinite(total):
        return None
    return weights / total
