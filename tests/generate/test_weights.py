"""Verdict-matrix statistics against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from rubricate.generate import (
    correlation_weights,
    goodness_matrix,
    preference_differences,
    redundant_pairs,
    satisfaction_rates,
)
from rubricate.rubric import Criterion
from rubricate.types import Verdict

# Six responses in three labelled pairs (0 > 1, 2 > 3, 4 > 5), two criteria.
MATRIX = np.array([[1, 0], [0, 0], [0, 1], [0, 0], [1, 1], [0, 1]], dtype=float)
PAIRS = [(0, 1), (2, 3), (4, 5)]


def test_weights_match_the_hand_computation() -> None:
    # d = [(1 + 0 + 1) / 3, (0 + 1 + 0) / 3] = [2/3, 1/3]
    # population covariance: var0 = 1/3 * 2/3 = 2/9, var1 = 1/4, cov = 1/6 - 1/3 * 1/2 = 0
    # S^-1 d = [(2/3) / (2/9), (1/3) / (1/4)] = [3, 4/3]  ->  normalised [9/13, 4/13]
    diff = preference_differences(MATRIX, PAIRS)
    np.testing.assert_allclose(diff, [2 / 3, 1 / 3])
    weights = correlation_weights(MATRIX, diff, ridge=0.0)
    np.testing.assert_allclose(weights, [9 / 13, 4 / 13])


def test_a_duplicated_criterion_shares_its_weight_instead_of_counting_twice() -> None:
    # Column 0 appears twice: S is singular; with a tiny ridge the copies split 9/13 evenly.
    doubled = np.column_stack([MATRIX, MATRIX[:, 0]])
    weights = correlation_weights(doubled, preference_differences(doubled, PAIRS), ridge=1e-9)
    np.testing.assert_allclose(weights, [9 / 26, 8 / 26, 9 / 26], atol=1e-6)


def test_a_criterion_that_favours_the_worse_response_gets_no_weight() -> None:
    matrix = np.column_stack([MATRIX, 1 - MATRIX[:, 0]])
    weights = correlation_weights(matrix, preference_differences(matrix, PAIRS))
    assert weights is not None and weights[2] == 0.0 and weights.sum() == pytest.approx(1.0)


def test_without_labels_correlated_criteria_share_one_weight() -> None:
    # Correlation matrix [[1,0,1],[0,1,0],[1,0,1]]: R^-1 1 -> [1/2, 1, 1/2] -> [1/4, 1/2, 1/4].
    doubled = np.column_stack([MATRIX, MATRIX[:, 0]])
    np.testing.assert_allclose(
        correlation_weights(doubled, None, ridge=1e-9), [0.25, 0.5, 0.25], atol=1e-6
    )


def test_all_zero_weights_are_undefined() -> None:
    flat = np.ones((4, 2))
    assert correlation_weights(flat, np.zeros(2)) is None


def test_redundant_pairs_use_correlation_and_skip_constant_columns() -> None:
    matrix = np.column_stack([MATRIX, MATRIX[:, 0], np.ones(6)])
    assert redundant_pairs(matrix, 0.95) == [(0, 2, pytest.approx(1.0))]


def test_goodness_flips_pitfalls_and_leaves_uncounted_verdicts_out() -> None:
    good = Criterion(text="States that Jupiter is the largest planet.", points=5)
    pitfall = Criterion(text="Claims that Saturn is the largest planet.", points=-3)
    rows = [
        {good.id: Verdict(good.id, "met"), pitfall.id: Verdict(pitfall.id, "met")},
        {good.id: Verdict(good.id, "error"), pitfall.id: Verdict(pitfall.id, "not_met")},
    ]
    matrix = goodness_matrix([good, pitfall], rows)
    np.testing.assert_array_equal(matrix, [[1.0, 0.0], [np.nan, 1.0]])
    np.testing.assert_allclose(satisfaction_rates(matrix), [1.0, 0.5])
    np.testing.assert_allclose(preference_differences(matrix, [(1, 0)]), [0.0, 1.0])
