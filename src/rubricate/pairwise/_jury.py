"""A jury's decision on one trial of a comparison from its members' decisions (pure).

Every member judges the same trial (a pair in one order, the same seats), so their
decisions are votes on one three-way question: ``A>B``, ``B>A`` or ``A=B``. A member
without a decision (``error``) does not vote; with no vote the trial has no decision
(an error, counted like a single judge's). The rules:

- ``majority``: the decision most voting members gave.
- ``weighted``: the decision with the largest sum of the voting members' weights.
- ``unanimous``: the decision when every voting member gave it.

A split jury (equal top counts or weights, or no unanimity) decides ``A=B``: it prefers
neither response. That is a decision, not an error: it votes 0 and is not correct under
JudgeBench's rule, like a single judge's tie. ``any`` (in grading: met when one member says
met) needs an order of verdicts that A and B do not have, so a comparison refuses it.
In criterion-wise mode each member decides the trial from its own criterion answers
(points and vetoes), and the jury votes on those decisions: a veto is then always one
judge's reading of both responses, never assembled from different judges' halves.
"""

from __future__ import annotations

from collections.abc import Sequence

from rubricate.errors import ConfigError
from rubricate.jury import JuryRule, decide
from rubricate.pairwise._types import Decision, Trial

__all__ = ["PAIRWISE_RULES", "check_pairwise_rule", "jury_decision", "jury_trial"]

PAIRWISE_RULES: tuple[str, ...] = ("majority", "weighted", "unanimous")


def check_pairwise_rule(rule: str) -> None:
    """Raise ``ConfigError`` unless ``rule`` has a meaning for a comparison."""
    if rule not in PAIRWISE_RULES:
        raise ConfigError(
            f"the jury rule '{rule}' cannot decide a comparison (A and B are not ordered like "
            f"verdicts); use {', '.join(PAIRWISE_RULES)}"
        )


def jury_decision(
    rule: JuryRule, decisions: Sequence[Decision | None], weights: Sequence[float]
) -> Decision | None:
    """The jury's decision from its members' (same positions); ``None`` when none decided."""
    check_pairwise_rule(rule)
    voting = [(d, w) for d, w in zip(decisions, weights, strict=True) if d is not None]
    if not voting:
        return None
    chosen = decide(rule, [d for d, _ in voting], [w for _, w in voting])
    return "A=B" if chosen is None else chosen


def jury_trial(rule: JuryRule, trials: Sequence[Trial], weights: Sequence[float]) -> Trial:
    """The jury's trial from its members' trials of one order.

    ``strong`` when every member that gave the jury's decision gave it strongly; ``cached``
    when every member's answer came from the cache.
    """
    decision = jury_decision(rule, [t.decision for t in trials], weights)
    cached = all(t.cached for t in trials)
    order = trials[0].order
    if decision is None:
        return Trial(order, None, error="no jury member decided", cached=cached)
    backers = [t for t in trials if t.decision == decision]
    strong = decision != "A=B" and bool(backers) and all(t.strong for t in backers)
    return Trial(order, decision, strong, cached=cached)
