"""Maps from a judge's P(met) to a calibrated probability, and how to measure them (pure).

- Platt scaling: ``sigmoid(a * logit(p) + b)`` fitted by Newton's method on Platt's smoothed
  targets ((N+ + 1) / (N+ + 2) for positives, 1 / (N- + 2) for negatives), so a small or
  separable label set gives a finite fit (scikit-learn's ``CalibratedClassifierCV`` sigmoid
  does the same).
- Temperature scaling: Platt with ``b = 0`` (one parameter, ``T = 1 / a``).
- Isotonic regression: pool-adjacent-violators on the labels, applied by linear interpolation
  between the fitted points and clipped at the ends (as scikit-learn's ``IsotonicRegression``).

Also the expected calibration error (10 equal-width bins) and the decision threshold that
maximises balanced accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "IsotonicMap",
    "ScalingMap",
    "balanced_accuracy",
    "best_threshold",
    "expected_calibration_error",
    "fit_isotonic",
    "fit_platt",
    "fit_temperature",
    "logit",
]

_EPS = 1e-6  # P(met) is clipped to [eps, 1 - eps] before its logit: 0 and 1 have none
Floats = NDArray[np.float64]


def logit(p: Sequence[float] | Floats) -> Floats:
    q = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1.0 - _EPS)
    return np.asarray(np.log(q) - np.log1p(-q), dtype=np.float64)


def _sigmoid(z: Floats) -> Floats:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class ScalingMap:
    """``sigmoid(a * logit(p) + b)``: Platt scaling, or temperature scaling with ``b = 0``."""

    a: float
    b: float = 0.0

    def apply(self, p: Sequence[float] | Floats) -> Floats:
        return _sigmoid(self.a * logit(p) + self.b)


@dataclass(frozen=True, slots=True)
class IsotonicMap:
    """A non-decreasing step fit: ``x`` increasing P(met) values, ``y`` their calibrated values."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    def apply(self, p: Sequence[float] | Floats) -> Floats:
        return np.asarray(np.interp(np.asarray(p, dtype=np.float64), self.x, self.y), np.float64)


def _targets(y: Floats) -> Floats:
    positives = float(y.sum())
    negatives = float(len(y)) - positives
    return np.where(y > 0, (positives + 1.0) / (positives + 2.0), 1.0 / (negatives + 2.0))


def _newton(z: Floats, t: Floats, with_bias: bool) -> tuple[float, float]:
    """Minimise the cross-entropy of ``sigmoid(a z + b)`` against targets ``t``."""
    features = np.stack([z, np.ones_like(z)], axis=1) if with_bias else z[:, None]
    theta = np.zeros(features.shape[1])
    theta[0] = 1.0

    def loss(th: Floats) -> float:
        s = features @ th
        # log(1 + e^s) - t s, written stably
        return float(np.sum(np.logaddexp(0.0, s) - t * s))

    current = loss(theta)
    for _ in range(100):
        s = _sigmoid(features @ theta)
        gradient = features.T @ (s - t)
        hessian = (features * (s * (1.0 - s))[:, None]).T @ features
        hessian += 1e-10 * np.eye(len(theta))
        step = np.linalg.solve(hessian, gradient)
        scale = 1.0
        while scale > 1e-8:
            candidate = theta - scale * step
            value = loss(candidate)
            if value <= current:
                break
            scale *= 0.5
        else:
            break
        improvement = current - value
        theta, current = candidate, value
        if improvement < 1e-12 and float(np.max(np.abs(gradient))) < 1e-9 * len(z) + 1e-12:
            break
    return float(theta[0]), float(theta[1]) if with_bias else 0.0


def fit_platt(p: Sequence[float] | Floats, y: Sequence[bool] | Floats) -> ScalingMap:
    """Platt scaling of P(met) ``p`` against labels ``y`` (see the module doc)."""
    labels = np.asarray(y, dtype=np.float64)
    a, b = _newton(logit(p), _targets(labels), with_bias=True)
    return ScalingMap(a, b)


def fit_temperature(p: Sequence[float] | Floats, y: Sequence[bool] | Floats) -> ScalingMap:
    """Temperature scaling: Platt without the bias, on the same smoothed targets."""
    labels = np.asarray(y, dtype=np.float64)
    a, _ = _newton(logit(p), _targets(labels), with_bias=False)
    return ScalingMap(a, 0.0)


def fit_isotonic(p: Sequence[float] | Floats, y: Sequence[bool] | Floats) -> IsotonicMap:
    """Isotonic regression (pool adjacent violators) of labels on P(met), ties pooled first."""
    x = np.asarray(p, dtype=np.float64)
    labels = np.asarray(y, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    x, labels = x[order], labels[order]
    unique, starts, counts = np.unique(x, return_index=True, return_counts=True)
    means = np.add.reduceat(labels, starts) / counts
    # Blocks of (mean, weight, number of unique x values) merged while they decrease.
    blocks: list[list[float]] = []
    for mean, weight in zip(means.tolist(), counts.tolist(), strict=True):
        blocks.append([mean, float(weight), 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, n2 = blocks.pop()
            m1, w1, n1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    fitted: list[float] = []
    for mean, _, n in blocks:
        fitted.extend([mean] * int(n))
    return IsotonicMap(tuple(unique.tolist()), tuple(fitted))


def expected_calibration_error(
    q: Sequence[float] | Floats, y: Sequence[bool] | Floats, bins: int = 10
) -> float:
    """Sum over equal-width bins of (share of items) x |mean probability - share positive|."""
    probs = np.asarray(q, dtype=np.float64)
    labels = np.asarray(y, dtype=np.float64)
    if len(probs) == 0:
        return math.nan
    # The last bin is closed so that probability 1.0 falls in it.
    index = np.minimum((probs * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        inside = index == b
        n = int(inside.sum())
        if n:
            total += n / len(probs) * abs(float(probs[inside].mean() - labels[inside].mean()))
    return total


def balanced_accuracy(predicted: Floats, y: Floats) -> float:
    """Mean of the true-positive and true-negative rates (NaN without both classes)."""
    positives, negatives = y > 0, y <= 0
    if not positives.any() or not negatives.any():
        return math.nan
    tpr = float((predicted[positives] > 0).mean())
    tnr = float((predicted[negatives] <= 0).mean())
    return (tpr + tnr) / 2.0


def best_threshold(q: Sequence[float] | Floats, y: Sequence[bool] | Floats) -> float:
    """The threshold ``t`` (``met`` when q >= t) with the highest balanced accuracy.

    Candidates are midpoints between adjacent distinct probabilities (and 0.5); among equal
    scores the one nearest 0.5 wins, so an uninformative fit keeps the usual threshold.
    """
    probs = np.asarray(q, dtype=np.float64)
    labels = np.asarray(y, dtype=np.float64)
    values = np.unique(probs)
    candidates = [0.5, *((values[1:] + values[:-1]) / 2.0).tolist()]
    best, best_score = 0.5, -1.0
    for t in candidates:
        score = balanced_accuracy((probs >= t).astype(np.float64), labels)
        if math.isnan(score):
            return 0.5
        if score > best_score + 1e-12 or (
            abs(score - best_score) <= 1e-12 and abs(t - 0.5) < abs(best - 0.5)
        ):
            best, best_score = t, score
    return float(best)
