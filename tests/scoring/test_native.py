"""Native-scale scoring, HealthBench length adjustment, and the normalized / weighted_mean alias."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rubricate.rubric import Criterion, Rubric, Scale
from rubricate.scoring import (
    NativeScore,
    length_adjusted_score,
    native_sample_score,
    score_criteria,
    score_sample,
    summarize_native,
)
from rubricate.types import Verdict


def test_length_adjustment_is_the_published_formula() -> None:
    assert length_adjusted_score(0.6, 2000, 0.05) == 0.6
    assert length_adjusted_score(0.6, 3000, 0.05) == pytest.approx(0.6 - 0.05 * 1000 / 500)
    assert length_adjusted_score(0.6, 1500, 0.05) == pytest.approx(0.6 + 0.05 * 500 / 500)
    with pytest.raises(ValueError, match="penalty"):
        length_adjusted_score(0.6, 100, -1.0)


@given(
    st.lists(
        st.tuples(st.floats(-10, 10).filter(lambda p: p != 0), st.sampled_from([0.0, 0.5, 1.0])),
        min_size=1,
        max_size=8,
    )
)
def test_weighted_mean_is_normalized(values: list[tuple[float, float]]) -> None:
    assert score_criteria(values, "weighted_mean") == score_criteria(values, "normalized")


def test_blocked_counts_zero_and_is_gradable() -> None:
    criteria = tuple(
        Criterion(id=f"c{i}", text=f"item {i}", tags=(f"axis:{dim}",), scale=Scale(kind="blocking"))
        for i, dim in enumerate(["info_recall", "info_recall", "analysis", "presentation"])
    )
    rubric = Rubric(criteria=criteria, metadata={"native": "drb2"})
    labels = ["met", "blocked", "not_met", "error"]
    verdicts = {c.id: Verdict(c.id, label) for c, label in zip(criteria, labels, strict=True)}
    scored = score_sample(rubric, verdicts)
    assert scored.score == pytest.approx(1 / 3) and scored.n_errors == 1
    assert scored.native is not None
    assert scored.native.parts == {
        "inforecall": 0.5,
        "analysis": 0.0,
        "presentation": None,
        "total": pytest.approx(1 / 3),
        "blocked_rate": pytest.approx(1 / 3),
    }


def test_unknown_scheme_and_mixed_runs_are_refused() -> None:
    rubric = Rubric(criteria=(Criterion(text="x"),), metadata={"native": "mmlu"})
    with pytest.raises(ValueError, match="unknown native scoring scheme 'mmlu'"):
        native_sample_score(rubric, {})
    with pytest.raises(ValueError, match="different benchmarks"):
        summarize_native([NativeScore("drb2", 0.5), NativeScore("prbench", 0.5)])
    assert summarize_native([None, None]) is None


def test_writingbench_run_score_averages_criteria_not_samples() -> None:
    run = summarize_native(
        [
            NativeScore("writingbench", 8.0, {"criteria": 1.0}),
            NativeScore("writingbench", 2.0, {"criteria": 3.0}),
        ]
    )
    assert run is not None and run.score == pytest.approx((8 + 3 * 2) / 4)
