"""The statistics against hand computations and reference libraries (scikit-learn, scipy)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import cohen_kappa_score, f1_score

from rubricate.meta import (
    BinaryCounts,
    average_ranks,
    binary_metrics,
    bootstrap_interval,
    kendall_tau_b,
    paired_mean_difference,
    pearson,
    spearman,
)


def counts(rows: list[tuple[int, int, int, int]]) -> BinaryCounts:
    array = np.array(rows, dtype=float).reshape(-1, 4)
    return BinaryCounts(array[:, 0], array[:, 1], array[:, 2], array[:, 3])


def values(rows: list[tuple[int, int, int, int]]) -> dict[str, float | None]:
    return {k: v.value for k, v in binary_metrics(counts(rows), n_resamples=0).items()}


def test_single_labeller_metrics_by_hand() -> None:
    # tp=3 fp=1 fn=2 tn=4
    got = values([(3, 1, 2, 4)])
    assert got["accuracy"] == pytest.approx(0.7)
    assert got["precision_met"] == pytest.approx(0.75)
    assert got["recall_met"] == pytest.approx(0.6)
    f1_met = 2 * 0.75 * 0.6 / 1.35
    f1_not_met = 2 * (4 / 6) * 0.8 / (4 / 6 + 0.8)
    assert got["balanced_f1"] == pytest.approx((f1_met + f1_not_met) / 2)
    # po = 0.7, pe = (4*5 + 6*5) / 100 = 0.5
    assert got["kappa"] == pytest.approx(0.4)
    assert got["leniency"] == pytest.approx(0.4 - 0.5)


def test_against_scikit_learn() -> None:
    judge = [1, 1, 1, 0, 0, 1, 0, 0, 0, 1, 1, 0]
    label = [1, 0, 1, 0, 1, 1, 0, 0, 1, 1, 0, 0]
    rows = [
        (j * y, j * (1 - y), (1 - j) * y, (1 - j) * (1 - y))
        for j, y in zip(judge, label, strict=True)
    ]
    got = values(rows)
    assert got["balanced_f1"] == pytest.approx(f1_score(label, judge, average="macro"))
    assert got["kappa"] == pytest.approx(cohen_kappa_score(label, judge))


def test_several_labellers_are_compared_pairwise_as_healthbench_does() -> None:
    # Items: judge met vs labels [T, T, F]; judge not met vs [F, T]; judge met vs [T].
    # (verdict, label) pairs: tp=3, fp=1, fn=1, tn=1.
    got = values([(2, 1, 0, 0), (0, 0, 1, 1), (1, 0, 0, 0)])
    # precision and recall of met: 3/4 each; of not met: 1/2 each.
    assert got["balanced_f1"] == pytest.approx((0.75 + 0.5) / 2)
    assert got["accuracy"] == pytest.approx(4 / 6)


def test_undefined_statistics_are_none_not_zero() -> None:
    got = values([(2, 0, 0, 0)])  # the judge and labels never say not met
    assert got["accuracy"] == 1.0
    assert got["balanced_f1"] is None  # F1 of not_met has no precision or recall
    assert got["kappa"] is None  # chance agreement is 1
    both_zero = values([(0, 1, 1, 0)])
    assert both_zero["balanced_f1"] == 0.0


def test_bootstrap_interval_reproduces_a_hand_resampling() -> None:
    rows = [(1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1), (2, 0, 0, 1), (1, 0, 0, 0)]
    got = binary_metrics(counts(rows), n_resamples=200, seed=7)["accuracy"]
    rng = np.random.default_rng(7)
    draws = []
    for _ in range(200):
        picked = [rows[i] for i in rng.integers(0, len(rows), size=len(rows))]
        agree = sum(r[0] + r[3] for r in picked)
        draws.append(agree / sum(sum(r) for r in picked))
    low, high = np.percentile(draws, [2.5, 97.5])
    assert got.ci95 == pytest.approx((low, high))
    again = binary_metrics(counts(rows), n_resamples=200, seed=7)["accuracy"]
    assert again.ci95 == got.ci95


def test_ranks_and_correlations_against_scipy() -> None:
    x = np.array([0.1, 0.4, 0.4, 0.9, 0.3, 0.3, 0.8, 0.05, 0.6, 0.6])
    y = np.array([1.0, 3.0, 2.0, 5.0, 2.0, 2.0, 4.0, 1.0, 3.0, 4.0])
    assert average_ranks(x) == pytest.approx(stats.rankdata(x))
    assert pearson(x, y) == pytest.approx(stats.pearsonr(x, y).statistic)
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)
    assert kendall_tau_b(x, y) == pytest.approx(stats.kendalltau(x, y).statistic)


def test_kendall_by_hand() -> None:
    # pairs of (1,2,3) vs (1,3,2): concordant (1,2),(1,3); discordant (2,3) -> (2-1)/3
    assert kendall_tau_b(np.array([1.0, 2.0, 3.0]), np.array([1.0, 3.0, 2.0])) == pytest.approx(
        1 / 3
    )


def test_constant_input_has_no_correlation() -> None:
    x = np.array([0.5, 0.5, 0.5])
    y = np.array([1.0, 2.0, 3.0])
    assert pearson(x, y) is None
    assert spearman(x, y) is None
    assert kendall_tau_b(x, y) is None


def test_correlation_interval_reproduces_a_hand_resampling() -> None:
    x = np.array([0.1, 0.5, 0.2, 0.9, 0.7, 0.4, 0.3, 0.8])
    y = np.array([0.2, 0.4, 0.1, 0.8, 0.9, 0.3, 0.5, 0.6])
    got = bootstrap_interval(spearman, x, y, n_resamples=100, seed=3)
    rng = np.random.default_rng(3)
    draws = []
    for _ in range(100):
        index = rng.integers(0, x.size, size=x.size)
        rho = stats.spearmanr(x[index], y[index]).statistic
        if not np.isnan(rho):
            draws.append(rho)
    assert got.value == pytest.approx(stats.spearmanr(x, y).statistic)
    assert got.ci95 == pytest.approx(tuple(np.percentile(draws, [2.5, 97.5])))


def test_paired_mean_difference_keeps_a_units_differences_together() -> None:
    units = [np.array([0.5, 0.3]), np.array([-0.1]), np.array([0.2, 0.2, 0.2])]
    got = paired_mean_difference(units, n_resamples=100, seed=1)
    assert got.value == pytest.approx((0.8 - 0.1 + 0.6) / 6)
    rng = np.random.default_rng(1)
    draws = []
    for _ in range(100):
        picked = [units[i] for i in rng.integers(0, 3, size=3)]
        draws.append(sum(u.sum() for u in picked) / sum(u.size for u in picked))
    assert got.ci95 == pytest.approx(tuple(np.percentile(draws, [2.5, 97.5])))
    assert paired_mean_difference([]).value is None


def test_simple_evals_reference_case() -> None:
    """The case in simple-evals' healthbench_meta_eval_test.py: judge [T, F, T] against
    physicians [[T, T, F], [T, F], [F]]; it expects precision 2/4 and 1/2, recall 2/3 and 1/3."""
    got = values([(2, 1, 0, 0), (0, 0, 1, 1), (0, 1, 0, 0)])
    assert got["precision_met"] == pytest.approx(2 / 4)
    assert got["recall_met"] == pytest.approx(2 / 3)
    f1_met = 2 * (2 / 4) * (2 / 3) / (2 / 4 + 2 / 3)
    f1_not_met = 2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3)
    assert got["balanced_f1"] == pytest.approx((f1_met + f1_not_met) / 2)


def test_kendall_matches_scipy_on_larger_inputs_with_many_ties() -> None:
    rng = np.random.default_rng(5)
    for size in (2, 3, 17, 400):
        x = rng.integers(0, 6, size).astype(float)
        y = (x + rng.integers(0, 4, size)).astype(float)
        expected = stats.kendalltau(x, y).statistic
        got = kendall_tau_b(x, y)
        if np.isnan(expected):
            assert got is None
        else:
            assert got == pytest.approx(expected)
