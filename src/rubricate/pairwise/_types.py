"""The values of a comparison: pairs, decisions in the judge's positions and in the original ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rubricate.rubric import Criterion, Rubric
from rubricate.types import Message

__all__ = [
    "CompareMode",
    "CriterionTrial",
    "Decision",
    "Order",
    "Orders",
    "Pair",
    "Position",
    "Trial",
    "Winner",
]

Position = Literal["A", "B"]
# "A" is the response shown first, in the judge's view, or response_a, in the original one.
Decision = Literal["A>B", "B>A", "A=B"]
Winner = Literal["A", "B", "tie"]
# Which original response is shown first: "AB" keeps the pair's order, "BA" swaps it.
Order = Literal["AB", "BA"]
Orders = Literal["both", "one"]
CompareMode = Literal["holistic", "criteria"]


@dataclass(frozen=True, slots=True)
class Pair:
    """Two responses to one conversation.

    Attributes:
        id: unique within a run.
        messages: the conversation both responses answer.
        response_a / response_b: the responses, in the data's order.
        label: the better response when known (``"A>B"`` or ``"B>A"``), else ``None``.
        source: where the pair comes from (JudgeBench: ``mmlu-pro-law``, ...), for ``by_source``.
        rubric: criteria to compare by; ``None`` compares holistically.
    """

    id: str
    messages: tuple[Message, ...]
    response_a: str
    response_b: str
    label: Decision | None = None
    source: str | None = None
    rubric: Rubric | None = None

    def shown(self, order: Order) -> tuple[str, str]:
        """(first, second) response text as the judge sees them in ``order``."""
        if order == "AB":
            return self.response_a, self.response_b
        return self.response_b, self.response_a


@dataclass(frozen=True, slots=True)
class Trial:
    """One order of a holistic comparison.

    Attributes:
        order: which original response was shown first.
        decision: in the positions the judge saw; ``None`` when the judge gave none (``error``).
        strong: the judge used a strong tag (``[[A>>B]]`` / ``[[B>>A]]``).
        raw: the judge's last reply ("" when every call failed).
        error: why there is no decision (``unparseable`` or ``failed_call: ...``).
        cached: the decision came from the cache.
    """

    order: Order
    decision: Decision | None
    strong: bool = False
    raw: str = ""
    error: str | None = None
    cached: bool = False


@dataclass(frozen=True, slots=True)
class CriterionTrial:
    """One order's answer on one criterion, in the positions the judge saw.

    Attributes:
        winner: which shown response satisfies the criterion better (``None``: error).
        first_met / second_met: for ``required`` criteria, whether each shown response meets it.
    """

    criterion: Criterion
    order: Order
    winner: Winner | None
    first_met: bool | None = None
    second_met: bool | None = None
    raw: str = ""
    error: str | None = None
    cached: bool = False
