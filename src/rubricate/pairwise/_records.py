"""What ``rubricate compare`` writes: ``pairs.jsonl`` lines and ``summary.json``.

A ``pairs.jsonl`` line is the shape ``rubricate meta-eval pairwise`` reads (JudgeBench's
output line plus rubricate's fields): ``judgments`` holds one trial per order with its
``decision`` in the positions the judge saw, ``order`` (``AB``: response_a shown first)
and ``raw`` reply; ``decisions`` maps them back to the original positions.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rubricate.pairwise._types import CompareMode, Decision, Order, Orders, Winner
from rubricate.results import Tokens

__all__ = [
    "CompareCounts",
    "CompareSummary",
    "CriterionLine",
    "CriterionTrialLine",
    "PairLine",
    "RubricGenerationFigures",
    "RubricSource",
    "SourceFigures",
    "TrialLine",
]


class TrialLine(BaseModel):
    """One order of a comparison (holistic reply, or the decision its criteria gave)."""

    model_config = ConfigDict(extra="ignore")

    order: Order
    decision: Decision | None  # judge's positions: "A" is the response shown first
    strong: bool = False  # [[A>>B]] / [[B>>A]]
    raw: str | None = None  # holistic: the judge's last reply; criteria: see ``criteria``
    error: str | None = None  # why there is no decision
    cached: bool = False


class CriterionTrialLine(BaseModel):
    model_config = ConfigDict(extra="ignore")

    order: Order
    winner: Winner | None  # judge's positions
    first_met: bool | None = None  # required criteria: does the response shown first meet it
    second_met: bool | None = None
    raw: str
    error: str | None = None
    cached: bool = False


class CriterionLine(BaseModel):
    """One criterion of a criterion-wise comparison."""

    model_config = ConfigDict(extra="ignore")

    criterion_id: str
    criterion: str
    points: float
    required: bool = False
    trials: list[CriterionTrialLine]
    winners: list[Winner | None]  # each order's winner in the original positions
    preference: Decision | None  # net over the orders, original positions


# Where a criterion-wise comparison's rubric came from: the pair's data, or a generator run
# for a pair that had none (``rubricate compare --generate-rubric``).
RubricSource = Literal["data", "generated"]


class PairLine(BaseModel):
    """One line of pairs.jsonl."""

    model_config = ConfigDict(extra="ignore")

    pair_id: str
    source: str = ""
    label: Decision | None = None
    mode: CompareMode
    judgments: list[TrialLine]
    decisions: list[Decision | None]  # original positions, in trial order
    net_vote: int  # votes for response_a minus votes for response_b
    preference: Decision | None  # None when every order failed
    correct: bool | None = None  # JudgeBench's rule; None without a label
    consistent: bool | None = None  # None with one order
    criteria: list[CriterionLine] = Field(default_factory=list)
    rubric_source: RubricSource | None = None  # None: compared holistically
    judge: str = ""
    template: str = ""


class SourceFigures(BaseModel):
    """The figures of a set of pairs (the run, or one source)."""

    n_pairs: int = 0
    n_labelled: int = 0
    accuracy: float | None = None  # fraction of labelled pairs correct by JudgeBench's rule
    consistency: float | None = None  # share of pairs whose orders agree (both-orders runs)
    first_position_rate: float | None = None  # share of non-tie decisions for the first seat
    ties: int = 0  # pairs whose net vote is 0 (ties and inconsistent pairs)
    errors: int = 0  # trials (orders) without a decision


class CompareCounts(BaseModel):
    judge_calls: int = 0
    cache_hits: int = 0
    failed_calls: int = 0
    unparseable_replies: int = 0
    reasked: int = 0
    deduplicated: int = 0
    error_pairs: int = 0  # pairs where no order gave a decision
    criterion_errors: int = 0  # criterion-wise: criterion answers without a decision
    skipped_lines: int = 0


class RubricGenerationFigures(BaseModel):
    """Rubrics written on the fly for pairs without one, and what writing them cost."""

    strategy: str
    generator: str  # the generator's fingerprint
    from_data: int = 0  # pairs compared by the rubric their data carried (no generation)
    generated: int = 0  # pairs compared by a generated rubric
    failed: int = 0  # pairs whose generation failed: error decisions, never compared otherwise
    calls: int = 0  # generation calls sent (re-asks included)
    cache_hits: int = 0
    failed_calls: int = 0
    unparseable_replies: int = 0
    reasks: int = 0
    criteria_rejected: int = 0  # by validation (vague, compound, ...)
    tokens: Tokens = Field(default_factory=Tokens)
    failures: list[str] = Field(default_factory=list)  # first reasons, for the report


class CompareSummary(SourceFigures):
    """summary.json of ``rubricate compare``."""

    mode: str = ""  # holistic, criteria, or mixed
    orders: Orders = "both"
    by_source: dict[str, SourceFigures] = Field(default_factory=dict)
    counts: CompareCounts = Field(default_factory=CompareCounts)
    tokens: Tokens = Field(default_factory=Tokens)  # the comparison's calls only
    rubric_generation: RubricGenerationFigures | None = None  # with --generate-rubric
    judge: str = ""
    templates: list[str] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)  # first reasons, for the report
    elapsed_s: float | None = None
    rubricate_version: str = ""
