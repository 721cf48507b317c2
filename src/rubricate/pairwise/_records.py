"""What ``rubricate compare`` writes: ``pairs.jsonl`` lines and ``summary.json``.

A ``pairs.jsonl`` line is the shape ``rubricate meta-eval pairwise`` reads (JudgeBench's
output line plus rubricate's fields): ``judgments`` holds one trial per order with its
``decision`` in the positions the judge saw, ``order`` (``AB``: response_a shown first)
and ``raw`` reply; ``decisions`` maps them back to the original positions.

With a jury, those fields are the jury's and ``jury`` holds each member's own comparison
(what that judge alone would have written); without one, ``jury`` is left out entirely.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from rubricate.pairwise._types import CompareMode, Decision, Order, Orders, Winner
from rubricate.results import CallCounts, Tokens

__all__ = [
    "CompareCounts",
    "CompareSummary",
    "CriterionLine",
    "CriterionTrialLine",
    "JuryMemberLine",
    "JuryMemberSummary",
    "JurySummary",
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


class JuryMemberLine(BaseModel):
    """One jury member's own comparison of a pair (its decisions, replies and criteria)."""

    model_config = ConfigDict(extra="ignore")

    judge: str  # the member's fingerprint: its cache key
    name: str = ""
    weight: float = 1.0
    judgments: list[TrialLine]
    decisions: list[Decision | None]  # original positions, in trial order
    net_vote: int
    preference: Decision | None
    correct: bool | None = None
    consistent: bool | None = None
    criteria: list[CriterionLine] = Field(default_factory=list)


def _drop_absent_jury(data: dict[str, Any], jury: object) -> dict[str, Any]:
    # A run without a jury writes exactly the lines and summary it wrote before juries.
    if jury is None:
        data.pop("jury", None)
    return data


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
    jury: list[JuryMemberLine] | None = None  # each member's comparison, when a jury decided

    @model_serializer(mode="wrap")
    def _serialize(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _drop_absent_jury(handler(self), self.jury)


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

    @classmethod
    def from_calls(
        cls,
        calls: CallCounts,
        *,
        error_pairs: int = 0,
        criterion_errors: int = 0,
        skipped_lines: int = 0,
    ) -> CompareCounts:
        """The call engine's counts with the run's own."""
        return cls(
            judge_calls=calls.calls,
            cache_hits=calls.cache_hits,
            failed_calls=calls.failed_calls,
            unparseable_replies=calls.unparseable_replies,
            reasked=calls.reasked,
            deduplicated=calls.deduplicated,
            error_pairs=error_pairs,
            criterion_errors=criterion_errors,
            skipped_lines=skipped_lines,
        )


class JuryMemberSummary(SourceFigures):
    """One jury member's figures over the run, as if it had judged alone, and its calls."""

    judge: str  # fingerprint
    name: str = ""
    weight: float = 1.0
    agreement_with_jury: float | None = None  # share of trials both decided where they agree
    decided: int = 0  # trials (pair x order) this member decided
    counts: CompareCounts = Field(default_factory=CompareCounts)
    tokens: Tokens = Field(default_factory=Tokens)


class JurySummary(BaseModel):
    """summary.json ``jury``: the rule, agreement between members and each member alone.

    Agreement is over trials (a pair in one order), each member's decision in the original
    positions as ``A``, ``B`` or ``tie``; a member that did not decide a trial is missing
    from it (Fleiss' kappa uses only trials every member decided).
    """

    rule: str
    trials: int = 0
    fleiss_kappa: float | None = None
    krippendorff_alpha: float | None = None
    members: list[JuryMemberSummary] = Field(default_factory=list)


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
    jury: JurySummary | None = None

    @model_serializer(mode="wrap")
    def _serialize(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _drop_absent_jury(handler(self), self.jury)
