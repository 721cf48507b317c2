"""The scoring core: reference cases pinned by hand, and invariants checked by hypothesis."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rubricate.rubric import Criterion, Rubric, Scale
from rubricate.scoring import criterion_value, score_sample, summarize
from rubricate.types import Verdict


def rubric_of(points, tags=None, required=None, **kwargs) -> Rubric:
    return Rubric(
        criteria=tuple(
            Criterion(
                id=f"c{i}",
                text=f"criterion {i}",
                points=p,
                tags=tuple((tags or {}).get(i, ())),
                required=bool(required and i in required),
            )
            for i, p in enumerate(points)
        ),
        **kwargs,
    )


def verdicts_of(labels) -> dict[str, Verdict]:
    return {f"c{i}": Verdict(f"c{i}", label) for i, label in enumerate(labels)}


def met(flags) -> list[str]:
    return ["met" if f else "not_met" for f in flags]


def test_healthbench_reference_case() -> None:
    rubric = rubric_of([7, 5, 10, -6])
    result = score_sample(rubric, verdicts_of(met([True, False, True, True])))
    assert result.score == pytest.approx(11 / 22)


def test_healthbench_per_sample_not_clipped() -> None:
    result = score_sample(rubric_of([2, -5]), verdicts_of(met([False, True])))
    assert result.score == pytest.approx(-2.5)


def test_normalized_prbench() -> None:
    # p = 7 + 10 - 6 = 11, pos = 22, neg = -6 -> (11 + 6) / 28
    result = score_sample(
        rubric_of([7, 5, 10, -6]), verdicts_of(met([True, False, True, True])), method="normalized"
    )
    assert result.score == pytest.approx(17 / 28)


def test_weighted_mean_inverts_pitfalls() -> None:
    # good = 7*1 + 5*0 + 10*1 + 6*(1-1) = 17 over 28
    result = score_sample(
        rubric_of([7, 5, 10, -6]),
        verdicts_of(met([True, False, True, True])),
        method="weighted_mean",
    )
    assert result.score == pytest.approx(17 / 28)


def test_errors_and_cannot_assess_leave_both_sides() -> None:
    rubric = rubric_of([7, 5, 10, -6])
    labels = ["met", "error", "cannot_assess", "not_met"]
    result = score_sample(rubric, verdicts_of(labels))
    assert result.score == pytest.approx(7 / 7)
    assert (result.n_errors, result.n_cannot_assess, result.n_scored) == (1, 1, 2)


def test_missing_verdict_is_an_error_not_zero() -> None:
    result = score_sample(rubric_of([3, 3]), {"c0": Verdict("c0", "met")})
    assert result.score == pytest.approx(1.0)
    assert result.n_errors == 1


def test_all_errors_scores_none() -> None:
    result = score_sample(rubric_of([3, 3]), verdicts_of(["error", "cannot_assess"]))
    assert result.score is None


def test_only_pitfalls_gradable_scores_none_for_healthbench() -> None:
    result = score_sample(rubric_of([3, -2]), verdicts_of(["error", "met"]))
    assert result.score is None


def test_partial_and_ordinal_values() -> None:
    ternary = Criterion(id="t", text="t", points=4, scale=Scale(kind="ternary"))
    ordinal = Criterion(
        id="o", text="o", points=6, scale=Scale(kind="ordinal", levels=("a", "b", "c", "d"))
    )
    rubric = Rubric(criteria=(ternary, ordinal))
    verdicts = {"t": Verdict("t", "partial"), "o": Verdict("o", "partial", level=2)}
    result = score_sample(rubric, verdicts)
    assert result.score == pytest.approx((4 * 0.5 + 6 * 2 / 3) / 10)


def test_soft_uses_probability() -> None:
    criterion = Criterion(id="c", text="c", points=1)
    assert criterion_value(criterion, Verdict("c", "met", probability=0.8), soft=True) == 0.8
    assert criterion_value(criterion, Verdict("c", "met", probability=0.8)) == 1.0


def test_per_axis_breakdown() -> None:
    rubric = rubric_of(
        [4, 6, -2], tags={0: ["axis:accuracy"], 1: ["axis:completeness"], 2: ["axis:accuracy"]}
    )
    result = score_sample(rubric, verdicts_of(met([True, False, True])))
    assert result.axes == {
        "accuracy": pytest.approx((4 - 2) / 4),
        "completeness": pytest.approx(0.0),
    }


def test_per_cluster_breakdown_keyed_by_the_whole_tag() -> None:
    rubric = rubric_of(
        [4, 6, -2, 3, 1],
        tags={
            0: ["cluster:emergency", "level:cluster", "cluster:emergency"],  # repeated: once
            1: ["cluster:emergency", "axis:accuracy"],
            2: ["cluster:emergency"],
            3: ["cluster:hedging"],
            4: ["level:example", "theme:not_a_rubric_tag"],
        },
        required={4},
    )
    labels = [*met([True, False, True]), "error", "not_met"]
    result = score_sample(rubric, verdicts_of(labels))
    assert result.clusters == {
        "cluster:emergency": pytest.approx((4 - 2) / 10),
        "level:cluster": pytest.approx(1.0),
        "cluster:hedging": None,  # its only criterion errored: unscored, not 0
        "level:example": pytest.approx(0.0),
    }
    assert result.score == 0.0  # the gate floors the sample, not its clusters
    normalized = score_sample(rubric, verdicts_of(labels), method="normalized")
    assert normalized.clusters["cluster:emergency"] == pytest.approx((2 + 2) / 12)


def test_gate_floors_the_score() -> None:
    rubric = rubric_of([5, 5], required={0}, gate_floor=0.1)
    failed = score_sample(rubric, verdicts_of(met([False, True])))
    assert failed.score == pytest.approx(0.1) and failed.gate_failed == ("c0",)
    passed = score_sample(rubric, verdicts_of(met([True, False])))
    assert passed.score == pytest.approx(0.5) and passed.gate_failed == ()


def test_required_pitfall_gate_fails_when_met() -> None:
    rubric = rubric_of([5, -5], required={1})
    assert score_sample(rubric, verdicts_of(met([True, True]))).score == 0.0
    assert score_sample(rubric, verdicts_of(met([True, False]))).score == 1.0


def test_gate_with_error_is_unknown_not_failed() -> None:
    rubric = rubric_of([5, 5], required={0})
    result = score_sample(rubric, verdicts_of(["error", "met"]))
    assert result.gate_unknown == ("c0",) and result.score == 1.0


def test_summary_clips_mean_and_bootstrap_is_seeded() -> None:
    scores = [1.4, 0.9, -0.2, None, 0.5]
    first = summarize(scores, seed=3)
    second = summarize(scores, seed=3)
    assert first.score == pytest.approx(min(1.0, max(0.0, (1.4 + 0.9 - 0.2 + 0.5) / 4)))
    assert first.bootstrap_std == second.bootstrap_std and first.ci95 == second.ci95
    assert first.n_samples == 5 and first.n_scored == 4
    assert 0.0 <= first.ci95[0] <= first.score <= first.ci95[1] <= 1.0


def test_summary_of_nothing_is_none() -> None:
    result = summarize([None, None])
    assert result.score is None and result.bootstrap_std is None and result.ci95 is None


def test_summary_axes_ignore_none() -> None:
    result = summarize([0.5], {"accuracy": [None, 0.25, 0.75]}, n_bootstrap=10)
    assert result.axes == {"accuracy": pytest.approx(0.5)}


points_lists = st.lists(
    st.integers(min_value=-10, max_value=10).filter(lambda p: p != 0), min_size=1, max_size=12
)


@st.composite
def rubric_and_labels(draw):
    points = draw(points_lists)
    labels = draw(
        st.lists(st.sampled_from(["met", "not_met"]), min_size=len(points), max_size=len(points))
    )
    return points, labels


@settings(max_examples=200)
@given(rubric_and_labels(), st.sampled_from(["normalized", "weighted_mean"]))
def test_normalized_methods_stay_in_unit_interval(case, method) -> None:
    points, labels = case
    result = score_sample(rubric_of(points), verdicts_of(labels), method=method)
    assert result.score is None or 0.0 <= result.score <= 1.0 + 1e-12


@settings(max_examples=200)
@given(
    rubric_and_labels(),
    st.integers(min_value=2, max_value=9),
    st.sampled_from(["healthbench", "normalized", "weighted_mean"]),
)
def test_scaling_points_changes_nothing(case, factor, method) -> None:
    points, labels = case
    base = score_sample(rubric_of(points), verdicts_of(labels), method=method).score
    scaled = score_sample(
        rubric_of([p * factor for p in points]), verdicts_of(labels), method=method
    ).score
    assert (base is None and scaled is None) or base == pytest.approx(scaled)


@settings(max_examples=200)
@given(rubric_and_labels(), st.sampled_from(["healthbench", "normalized", "weighted_mean"]))
def test_a_met_pitfall_only_lowers_the_score(case, method) -> None:
    points, labels = case
    points = [*points, -3]
    before = score_sample(rubric_of(points), verdicts_of([*labels, "not_met"]), method=method).score
    after = score_sample(rubric_of(points), verdicts_of([*labels, "met"]), method=method).score
    if before is not None:
        assert after is not None and after <= before + 1e-12
