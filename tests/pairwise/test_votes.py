"""Swap mapping, net votes, JudgeBench's rule, consistency, first position, criteria with veto."""

from __future__ import annotations

import pytest

from rubricate.pairwise import (
    CriterionTrial,
    chose_first,
    consistent,
    criteria_decision,
    judgebench_correct,
    net_vote,
    preference,
    to_original,
    winner_to_original,
)
from rubricate.rubric import Criterion


def test_swap_maps_back_to_original_positions() -> None:
    assert to_original("A>B", "AB") == "A>B"
    assert to_original("A>B", "BA") == "B>A"  # the judge's "A" was response_b
    assert to_original("B>A", "BA") == "A>B"
    assert to_original("A=B", "BA") == "A=B"
    assert to_original(None, "BA") is None
    assert winner_to_original("A", "BA") == "B"
    assert winner_to_original("tie", "BA") == "tie"


def test_net_vote_and_preference() -> None:
    assert net_vote(["A>B", "A>B"]) == 2
    assert net_vote(["A>B", "B>A"]) == 0
    assert net_vote(["A>B", "A=B"]) == 1
    assert net_vote(["B>A", None]) == -1
    assert preference(["A>B", "A=B"]) == "A>B"
    assert preference(["A>B", "B>A"]) == "A=B"
    assert preference([None, None]) is None


@pytest.mark.parametrize(
    ("decisions", "label", "correct"),
    [
        (["A>B", "A>B"], "A>B", True),
        (["A>B", "A=B"], "A>B", True),  # JudgeBench: one vote and a tie still favour A
        (["A>B", "B>A"], "A>B", False),  # inconsistent
        (["A=B", "A=B"], "A>B", False),  # tie
        (["B>A", "B>A"], "B>A", True),
        (["A>B", None], "A>B", True),
        ([None, None], "A>B", False),
        (["B>A"], "A>B", False),
    ],
)
def test_judgebench_rule(decisions: list, label: str, correct: bool) -> None:
    assert judgebench_correct(decisions, label) is correct  # type: ignore[arg-type]


def test_consistency_and_first_position() -> None:
    assert consistent(["A>B"]) is None
    assert consistent(["A>B", "A>B"]) is True
    assert consistent(["A=B", "A=B"]) is True
    assert consistent(["A>B", "B>A"]) is False
    assert consistent([None, None]) is False
    assert chose_first("A>B") is True
    assert chose_first("B>A") is False
    assert chose_first("A=B") is None
    assert chose_first(None) is None


def _trial(criterion: Criterion, winner: str | None, met: tuple[bool, bool] | None = None):
    return CriterionTrial(
        criterion=criterion,
        order="AB",
        winner=winner,  # type: ignore[arg-type]
        first_met=met[0] if met else None,
        second_met=met[1] if met else None,
    )


ACCURATE = Criterion(id="acc", text="Gives the right total.", points=5)
CLEAR = Criterion(id="clear", text="Explains each step.", points=3)
STYLE = Criterion(id="style", text="Uses headings.", points=1)
PITFALL = Criterion(id="rude", text="Is rude to the user.", points=-4)
SAFETY = Criterion(id="safe", text="Warns about the overdose risk.", points=1, required=True)
HARMFUL = Criterion(id="harm", text="Recommends a lethal dose.", points=-1, required=True)


def test_points_decide() -> None:
    trials = [_trial(ACCURATE, "A"), _trial(CLEAR, "B"), _trial(STYLE, "B")]
    assert criteria_decision(trials) == "A>B"  # 5 against 3 + 1
    assert criteria_decision([_trial(CLEAR, "A"), _trial(ACCURATE, "B")]) == "B>A"
    assert criteria_decision([_trial(CLEAR, "A"), _trial(CLEAR, "B")]) == "A=B"


def test_a_pitfall_counts_against_the_response_that_commits_it() -> None:
    assert criteria_decision([_trial(CLEAR, "A"), _trial(PITFALL, "A")]) == "B>A"


def test_errors_are_left_out_and_all_errors_give_no_decision() -> None:
    assert criteria_decision([_trial(ACCURATE, None), _trial(STYLE, "B")]) == "B>A"
    assert criteria_decision([_trial(ACCURATE, None)]) is None


def test_required_criterion_vetoes_whatever_the_points() -> None:
    trials = [_trial(ACCURATE, "A"), _trial(CLEAR, "A"), _trial(SAFETY, "B", (False, True))]
    assert criteria_decision(trials) == "B>A"
    # A required pitfall: the response that commits it loses.
    trials = [_trial(ACCURATE, "B"), _trial(HARMFUL, "B", (False, True))]
    assert criteria_decision(trials) == "A>B"
    # Both meet it (or both fail it): no veto, points decide.
    trials = [_trial(ACCURATE, "A"), _trial(SAFETY, "tie", (True, True))]
    assert criteria_decision(trials) == "A>B"


def test_vetoes_pointing_both_ways_cancel() -> None:
    trials = [
        _trial(SAFETY, "A", (True, False)),
        _trial(HARMFUL, "A", (True, False)),  # A commits the required pitfall
        _trial(CLEAR, "A"),
    ]
    # A veto for A (safety) and one for B (harm) cancel; points: A gets 1 - 1 + 3.
    assert criteria_decision(trials) == "A>B"
