"""Jury rule invariants over random votes (hypothesis)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rubricate.jury import (
    AgreementTally,
    combine_verdicts,
    fleiss_kappa,
    krippendorff_alpha,
    share_agreeing,
)
from rubricate.types import Vote

_ORDER = {"not_met": 0, "met": 1}
labels = st.lists(st.sampled_from(["met", "not_met", "error", "cannot_assess"]), min_size=1)


def _votes(names):
    return [Vote(f"j{i}", name) for i, name in enumerate(names)]


@given(labels)
def test_unanimous_never_above_majority_never_above_any(names) -> None:
    votes = _votes(names)
    results = {rule: combine_verdicts("c", rule, votes).label for rule in ("unanimous", "any")}
    majority = combine_verdicts("c", "majority", votes).label
    if results["any"] in _ORDER:
        assert _ORDER[results["unanimous"]] <= _ORDER[results["any"]]
        if majority in _ORDER:
            assert _ORDER[results["unanimous"]] <= _ORDER[majority] <= _ORDER[results["any"]]
    else:  # nobody voted: every rule says so alike
        assert results["unanimous"] == results["any"] == majority


@given(labels, st.floats(min_value=0.1, max_value=10))
def test_equal_weights_make_weighted_the_majority(names, weight) -> None:
    votes = [Vote(v.judge, v.verdict, weight=weight) for v in _votes(names)]
    assert combine_verdicts("c", "weighted", votes) == combine_verdicts("c", "majority", votes)


@given(labels)
def test_a_verdict_is_only_ever_one_a_member_gave_or_an_abstention(names) -> None:
    for rule in ("majority", "weighted", "unanimous", "any"):
        label = combine_verdicts("c", rule, _votes(names)).label
        assert label in names or label == "cannot_assess"


ratings = st.lists(
    st.lists(st.sampled_from(["met", "not_met", None]), min_size=3, max_size=3), min_size=1
)


@given(ratings)
def test_the_running_tally_equals_the_statistics_on_the_whole_table(table) -> None:
    tally = AgreementTally()
    jury = [row[0] for row in table]
    for row, verdict in zip(table, jury, strict=True):
        tally.add({f"j{i}": rating for i, rating in enumerate(row)}, verdict)
    assert tally.fleiss_kappa() == _approx(fleiss_kappa(table))
    assert tally.krippendorff_alpha() == _approx(krippendorff_alpha(table))
    for i in range(3):
        assert tally.agreement_with_jury(f"j{i}") == _approx(
            share_agreeing([row[i] for row in table], jury)
        )


def _approx(value):
    return None if value is None else pytest.approx(value)
