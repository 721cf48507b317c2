"""How a jury turns its members' verdicts on one criterion into one verdict (pure).

Members that could not decide (``error``, ``cannot_assess``) abstain. The rules:

- ``majority``: the verdict most members gave; a tie between the top verdicts is
  ``cannot_assess`` (reason ``jury tie``), never a coin flip.
- ``weighted``: the verdict with the largest sum of member weights; a tie likewise.
- ``unanimous``: the lowest verdict any member gave (``met`` only when every member says
  ``met``); the conservative rule.
- ``any``: the highest verdict any member gave (``met`` when one member says ``met``).

Verdicts are ordered ``blocked`` < ``not_met`` < ``partial`` < ``met`` and, on ordinal
criteria, by level. With no voting member the jury's verdict is ``error`` when every member
errored, else ``cannot_assess``.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Literal, TypeVar

from rubricate.types import Verdict, Vote

__all__ = ["RULES", "JuryRule", "Vote", "combine_verdicts", "decide"]

JuryRule = Literal["majority", "weighted", "unanimous", "any"]
RULES: tuple[str, ...] = ("majority", "weighted", "unanimous", "any")

_ORDER = {"blocked": 0, "not_met": 1, "partial": 2, "met": 3}
_ABSTAIN = frozenset({"error", "cannot_assess"})

L = TypeVar("L", bound=Hashable)


def decide(rule: JuryRule, labels: Sequence[L], weights: Sequence[float]) -> L | None:
    """The label a jury picks from unordered votes; ``None`` on a tie, a split or no vote.

    ``majority`` and ``weighted`` as for criteria; ``unanimous`` returns the label only when
    every vote gives it. ``any`` needs an order of labels (a criterion's), so it is refused
    here. This is the jury's decision over any labels (a comparison's ``A``/``B``/``tie``),
    for stages that decide one question with several judges.
    """
    if rule == "unanimous":
        distinct = set(labels)
        return next(iter(distinct)) if len(distinct) == 1 else None
    if rule not in ("majority", "weighted"):
        raise ValueError(f"decide() takes 'majority', 'weighted' or 'unanimous', not {rule!r}")
    totals: dict[L, float] = {}
    for label, weight in zip(labels, weights, strict=True):
        totals[label] = totals.get(label, 0.0) + (1.0 if rule == "majority" else weight)
    if not totals:
        return None
    best = max(totals.values())
    top = [label for label, total in totals.items() if total == best]
    return top[0] if len(top) == 1 else None


def _rank(vote: Vote) -> tuple[int, int]:
    return (_ORDER[vote.verdict], vote.level if vote.level is not None else 0)


def combine_verdicts(criterion_id: str, rule: JuryRule, votes: Sequence[Vote]) -> Verdict:
    """The jury's verdict on one criterion from its members' votes (see the module doc)."""
    voting = [v for v in votes if v.verdict not in _ABSTAIN]
    if not voting:
        label = "error" if votes and all(v.verdict == "error" for v in votes) else "cannot_assess"
        return Verdict(criterion_id, label, explanation=f"jury: no member decided ({label})")
    if rule in ("majority", "weighted"):
        chosen = decide(rule, [(v.verdict, v.level) for v in voting], [v.weight for v in voting])
        if chosen is None:
            return Verdict(criterion_id, "cannot_assess", explanation="jury tie")
        label, level = chosen
    elif rule in ("unanimous", "any"):
        pick = min if rule == "unanimous" else max
        best = pick(voting, key=_rank)
        label, level = best.verdict, best.level
    else:
        raise ValueError(f"unknown jury rule {rule!r} ({', '.join(RULES)})")
    return Verdict(criterion_id, label, probability=_mean_probability(voting), level=level)


def _mean_probability(voting: Sequence[Vote]) -> float | None:
    """The weight-averaged P(met), only when every voting member reported one."""
    if any(v.probability is None for v in voting):
        return None
    total = sum(v.weight for v in voting)
    return sum(v.weight * (v.probability or 0.0) for v in voting) / total
