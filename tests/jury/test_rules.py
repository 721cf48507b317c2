"""Jury rules on fixed votes: majority, weighted, unanimous, any; ties and abstentions."""

import pytest

from rubricate.jury import combine_verdicts, decide
from rubricate.types import Vote


def votes(*labels: str, weights=None, probabilities=None):
    weights = weights or [1.0] * len(labels)
    probabilities = probabilities or [None] * len(labels)
    return [
        Vote(f"j{i}", label, p, None, w)
        for i, (label, w, p) in enumerate(zip(labels, weights, probabilities, strict=True))
    ]


def test_majority_takes_the_most_common_verdict() -> None:
    assert combine_verdicts("c", "majority", votes("met", "met", "not_met")).label == "met"
    assert combine_verdicts("c", "majority", votes("not_met", "met", "not_met")).label == "not_met"


def test_a_majority_tie_is_cannot_assess_never_a_coin_flip() -> None:
    tied = combine_verdicts("c", "majority", votes("met", "not_met"))
    assert tied.label == "cannot_assess" and tied.explanation == "jury tie"
    # An errored member abstains, which can make a tie of three judges.
    assert combine_verdicts("c", "majority", votes("met", "error", "not_met")).label == (
        "cannot_assess"
    )


def test_weighted_sums_weights_and_ties_are_cannot_assess() -> None:
    heavy = votes("met", "not_met", "not_met", weights=[3.0, 1.0, 1.0])
    assert combine_verdicts("c", "weighted", heavy).label == "met"
    # The same votes by head count go the other way.
    assert combine_verdicts("c", "majority", heavy).label == "not_met"
    even = votes("met", "not_met", "not_met", weights=[2.0, 1.0, 1.0])
    assert combine_verdicts("c", "weighted", even).label == "cannot_assess"


def test_unanimous_is_met_only_when_every_voter_says_met() -> None:
    assert combine_verdicts("c", "unanimous", votes("met", "met", "met")).label == "met"
    assert combine_verdicts("c", "unanimous", votes("met", "met", "not_met")).label == "not_met"
    assert combine_verdicts("c", "unanimous", votes("met", "partial")).label == "partial"
    # Abstentions do not veto.
    assert combine_verdicts("c", "unanimous", votes("met", "cannot_assess")).label == "met"


def test_any_is_met_when_one_voter_says_met() -> None:
    assert combine_verdicts("c", "any", votes("not_met", "not_met", "met")).label == "met"
    assert combine_verdicts("c", "any", votes("not_met", "not_met")).label == "not_met"


def test_ordinal_levels_are_categories_and_ordered() -> None:
    levels = [Vote("a", "met", None, 2), Vote("b", "met", None, 2), Vote("c", "met", None, 0)]
    majority = combine_verdicts("c", "majority", levels)
    assert (majority.label, majority.level) == ("met", 2)
    assert combine_verdicts("c", "unanimous", levels).level == 0
    assert combine_verdicts("c", "any", levels).level == 2


def test_no_voter_gives_error_or_cannot_assess() -> None:
    assert combine_verdicts("c", "majority", votes("error", "error")).label == "error"
    assert combine_verdicts("c", "any", votes("error", "cannot_assess")).label == "cannot_assess"


def test_probability_is_the_weighted_mean_when_every_voter_has_one() -> None:
    known = votes("met", "met", "not_met", weights=[1, 1, 2], probabilities=[0.9, 0.7, 0.2])
    assert combine_verdicts("c", "majority", known).probability == pytest.approx(
        (0.9 + 0.7 + 0.4) / 4
    )
    partly = votes("met", "met", probabilities=[0.9, None])
    assert combine_verdicts("c", "majority", partly).probability is None


def test_decide_works_on_any_labels_for_other_stages() -> None:
    # A comparison stage decides "A", "B" or "tie" the same way.
    assert decide("majority", ["A", "B", "A"], [1, 1, 1]) == "A"
    assert decide("majority", ["A", "B"], [1, 1]) is None
    assert decide("weighted", ["A", "B", "B"], [5, 1, 1]) == "A"
    assert decide("majority", [], []) is None
    assert decide("unanimous", ["A", "A"], [1, 1]) == "A"
    assert decide("unanimous", ["A", "B", "A"], [1, 1, 1]) is None
    with pytest.raises(ValueError, match="majority"):
        decide("any", ["A"], [1])
