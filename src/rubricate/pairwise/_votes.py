"""From each order's decision to the pair's preference, and the figures of a run (pure).

Decisions are mapped back to the original positions before anything is counted: in order
``BA`` the judge's "A" is the pair's ``response_b``. Each decision then votes +1 (``A>B``),
-1 (``B>A``) or 0 (a tie or an error), and the pair's preference is the sign of the sum.
"""

from __future__ import annotations

from collections.abc import Sequence

from rubricate.pairwise._types import CriterionTrial, Decision, Order, Winner

__all__ = [
    "chose_first",
    "consistent",
    "criteria_decision",
    "flip",
    "judgebench_correct",
    "net_vote",
    "preference",
    "to_original",
    "winner_to_original",
]

_FLIPPED: dict[Decision, Decision] = {"A>B": "B>A", "B>A": "A>B", "A=B": "A=B"}
_VOTE: dict[Decision, int] = {"A>B": 1, "B>A": -1, "A=B": 0}


def flip(decision: Decision) -> Decision:
    """The same preference with the two responses' seats exchanged."""
    return _FLIPPED[decision]


def to_original(decision: Decision | None, order: Order) -> Decision | None:
    """A decision in the judge's positions, in the pair's original positions."""
    if decision is None or order == "AB":
        return decision
    return flip(decision)


def winner_to_original(winner: Winner | None, order: Order) -> Winner | None:
    if winner is None or winner == "tie" or order == "AB":
        return winner
    return "B" if winner == "A" else "A"


def net_vote(decisions: Sequence[Decision | None]) -> int:
    """Votes for ``response_a`` minus votes for ``response_b`` (original positions)."""
    return sum(_VOTE[d] for d in decisions if d is not None)


def preference(decisions: Sequence[Decision | None]) -> Decision | None:
    """The net preference; ``None`` when no order gave a decision (every one an error)."""
    if all(d is None for d in decisions):
        return None
    net = net_vote(decisions)
    return "A>B" if net > 0 else "B>A" if net < 0 else "A=B"


def judgebench_correct(decisions: Sequence[Decision | None], label: Decision) -> bool:
    """JudgeBench's rule: correct only when the net vote favours the labelled response.

    A tie, an error and a pair whose two orders disagree are not correct.
    """
    net = net_vote(decisions)
    return net > 0 if label == "A>B" else net < 0 if label == "B>A" else False


def consistent(decisions: Sequence[Decision | None]) -> bool | None:
    """Whether every order gave the same decision (original positions); ``None`` with one order.

    An error in any order makes the pair inconsistent.
    """
    if len(decisions) < 2:
        return None
    return decisions[0] is not None and all(d == decisions[0] for d in decisions)


def chose_first(decision: Decision | None) -> bool | None:
    """Whether a decision (judge's positions) chose the response shown first; ``None`` for a
    tie or an error, which choose neither."""
    if decision is None or decision == "A=B":
        return None
    return decision == "A>B"


def criteria_decision(trials: Sequence[CriterionTrial]) -> Decision | None:
    """One order's decision from its criteria, in that order's (judge's) positions.

    A ``required`` criterion that exactly one shown response meets decides the pair for it
    (a required pitfall: the one that does not commit it). When such vetoes point both ways
    they cancel, and points decide. Otherwise each criterion's points go to the response that
    satisfies it better (a pitfall's points count against the response that commits it
    more); the higher total wins. Criteria with errors are left out; ``None`` when every
    criterion errored.
    """
    usable = [t for t in trials if t.winner is not None]
    if not usable:
        return None
    vetoes: set[Winner] = set()
    for trial in usable:
        if not trial.criterion.required or trial.first_met is None or trial.second_met is None:
            continue
        if trial.first_met == trial.second_met:
            continue
        first_fails = trial.first_met == trial.criterion.is_pitfall
        vetoes.add("B" if first_fails else "A")
    if len(vetoes) == 1:
        return "A>B" if vetoes == {"A"} else "B>A"
    margin = 0.0
    for trial in usable:
        if trial.winner == "A":
            margin += trial.criterion.points
        elif trial.winner == "B":
            margin -= trial.criterion.points
    return "A>B" if margin > 0 else "B>A" if margin < 0 else "A=B"
