"""Result records that cross the file boundary: results.jsonl lines and summary.json."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from rubricate.rubric import POINTS_LIMIT, Scale
from rubricate.types import Usage

# What a results line may hold; anything else was edited by hand and is refused, located.
_Label = Literal["met", "not_met", "partial", "blocked", "cannot_assess", "error"]
_MethodName = Literal["healthbench", "normalized", "weighted_mean"]
_Finite = Annotated[StrictFloat, AllowInfNan(False)]

__all__ = [
    "CallCounts",
    "Counts",
    "QuoteRecord",
    "RunSummary",
    "SampleResult",
    "Tokens",
    "VerdictRecord",
]


class QuoteRecord(BaseModel):
    """One quote the judge gave as evidence, and whether it was found in the response."""

    quote: StrictStr
    found: StrictBool


class VerdictRecord(BaseModel):
    """One criterion's verdict as stored in results.jsonl, with what scoring needs."""

    model_config = ConfigDict(extra="ignore")

    criterion_id: StrictStr = Field(min_length=1)
    criterion: StrictStr = Field(min_length=1)
    points: StrictFloat = Field(allow_inf_nan=False, ge=-POINTS_LIMIT, le=POINTS_LIMIT)
    tags: list[StrictStr] = Field(default_factory=list)
    required: StrictBool = False
    scale: Scale | None = None  # omitted for binary criteria
    verdict: _Label
    # P(met) in [0, 1] when the judge reported it
    probability: StrictFloat | None = Field(default=None, allow_inf_nan=False, ge=0.0, le=1.0)
    level: StrictInt | None = None  # ordinal level index, 0 = worst
    explanation: str | None = None
    # The judge's quotes and whether each was found in the response; None = not asked for.
    evidence: list[QuoteRecord] | None = None
    # The judge's own label when ``--evidence strict`` overrode it (a met without a found quote).
    judged: _Label | None = None

    @model_validator(mode="after")
    def _fits_its_scale(self) -> VerdictRecord:
        """The verdict must be one the criterion's scale can give (checked, never clipped)."""
        if not self.criterion.strip():
            raise ValueError("criterion text is empty")
        kind = self.scale.kind if self.scale is not None else "binary"
        if kind == "ordinal":
            top = len(self.scale.levels if self.scale is not None else ()) - 1
            if self.verdict in ("met", "not_met", "partial"):
                if self.level is None:
                    raise ValueError(
                        f"verdict '{self.verdict}' on an ordinal criterion needs a level"
                    )
                if not 0 <= self.level <= top:
                    raise ValueError(f"level {self.level} is outside this criterion's 0..{top}")
        elif self.level is not None:
            raise ValueError(f"level {self.level} given for a {kind} criterion")
        if self.verdict == "partial" and kind == "binary":
            raise ValueError("verdict 'partial' on a binary criterion (only ternary and ordinal)")
        if self.verdict == "blocked" and kind != "blocking":
            raise ValueError(f"verdict 'blocked' on a {kind} criterion (only blocking)")
        return self


class SampleResult(BaseModel):
    """One line of results.jsonl."""

    model_config = ConfigDict(extra="ignore")

    sample_id: StrictStr = Field(min_length=1)
    rubric_id: StrictStr = ""
    rubric_fingerprint: StrictStr
    gate_floor: StrictFloat = Field(
        default=0.0, allow_inf_nan=False, ge=-POINTS_LIMIT, le=POINTS_LIMIT
    )
    method: _MethodName = "healthbench"
    # HealthBench per-sample score is not clipped
    score: StrictFloat | None = Field(allow_inf_nan=False)
    axes: dict[str, _Finite | None] = Field(default_factory=dict)
    gate_failed: list[StrictStr] = Field(default_factory=list)
    # On the benchmark's own scale (WritingBench 1-10, DRB-II recall, ...), when the data names one.
    native_score: StrictFloat | None = Field(default=None, allow_inf_nan=False)
    native: dict[str, _Finite | None] = Field(default_factory=dict)
    verdicts: list[VerdictRecord] = Field(min_length=1)
    judge: str = ""
    template: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("metadata")
    @classmethod
    def _metadata_finite(cls, value: dict[str, Any]) -> dict[str, Any]:
        """NaN in metadata would be written back as ``null``: refuse it instead."""
        stack: list[Any] = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, float) and not math.isfinite(item):
                raise ValueError(f"metadata holds a non-finite number ({item})")
            if isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
        return value

    @model_validator(mode="after")
    def _criterion_ids_unique(self) -> SampleResult:
        seen: dict[str, int] = {}
        for index, record in enumerate(self.verdicts):
            if record.criterion_id in seen:
                raise ValueError(
                    f"criterion id '{record.criterion_id}' appears twice "
                    f"(verdicts[{seen[record.criterion_id]}] and verdicts[{index}])"
                )
            seen[record.criterion_id] = index
        return self


# Counters are mutable dataclasses, not frozen ones: they change on the hot path (one
# increment per criterion), and pydantic's attribute assignment costs several times more.


@dataclass(slots=True)
class Tokens:
    """Tokens of a model's calls, summed over calls (parsed or not)."""

    prompt: int = 0
    cached_prompt: int = 0  # the part of ``prompt`` the server reused from its prefix cache
    completion: int = 0

    def add(self, usage: Usage) -> None:
        self.prompt += usage.prompt_tokens
        self.cached_prompt += usage.cached_prompt_tokens
        self.completion += usage.completion_tokens

    def __add__(self, other: Tokens) -> Tokens:
        return _summed(self, other)


@dataclass(slots=True)
class CallCounts:
    """What the cached-call engine did for one model (a judge, a policy, a generator).

    Attributes:
        calls: calls that returned a reply (usable or not).
        cache_hits: answers taken from the cache instead of a call.
        deduplicated: answers shared with an identical request already in flight.
        failed_calls: calls that raised after the backend's own retries.
        unparseable_replies: replies the caller could not use (each one is counted).
        reasked: what was asked again after such a reply (criteria for a judge, replies otherwise).
        tokens: usage of every reply, counted before it is parsed.
    """

    calls: int = 0
    cache_hits: int = 0
    deduplicated: int = 0
    failed_calls: int = 0
    unparseable_replies: int = 0
    reasked: int = 0
    tokens: Tokens = field(default_factory=Tokens)

    def __add__(self, other: CallCounts) -> CallCounts:
        return _summed(self, other)


@dataclass(slots=True)
class Counts:
    """The counts of a grading run (summary.json ``counts``), local or on Ray.

    The judge's and the policy's call counters come from their ``CallCounts``
    (``with_calls``); the rest is counted by scoring and by the run writer.
    """

    criteria: int = 0
    judge_calls: int = 0
    cache_hits: int = 0
    errors: int = 0
    cannot_assess: int = 0
    skipped_lines: int = 0
    failed_calls: int = 0
    unparseable_replies: int = 0
    reasked: int = 0
    deduplicated: int = 0
    gate_failed: int = 0
    policy_calls: int = 0
    policy_cache_hits: int = 0
    # How each met verdict was supported when evidence was asked for (see ``add_evidence``).
    evidence_verified: int = 0
    evidence_unverified: int = 0
    evidence_missing: int = 0

    def add_scored(self, criteria: int, errors: int, cannot_assess: int, gate_failed: bool) -> None:
        """Count one scored sample."""
        self.criteria += criteria
        self.errors += errors
        self.cannot_assess += cannot_assess
        self.gate_failed += 1 if gate_failed else 0

    def add_evidence(self, status: str | None) -> None:
        """Count one verdict's evidence status (``rubricate.judge.evidence_status``)."""
        if status == "verified":
            self.evidence_verified += 1
        elif status == "unverified":
            self.evidence_unverified += 1
        elif status == "missing":
            self.evidence_missing += 1

    def with_calls(self, judge: CallCounts, policy: CallCounts | None = None) -> Counts:
        """A copy with the judge's (and the policy's) call counters filled in."""
        policy = policy or CallCounts()
        return replace(
            self,
            judge_calls=judge.calls,
            cache_hits=judge.cache_hits,
            failed_calls=judge.failed_calls,
            unparseable_replies=judge.unparseable_replies,
            reasked=judge.reasked,
            deduplicated=judge.deduplicated,
            policy_calls=policy.calls,
            policy_cache_hits=policy.cache_hits + policy.deduplicated,
        )

    def __add__(self, other: Counts) -> Counts:
        return _summed(self, other)


_Summable = TypeVar("_Summable", Tokens, CallCounts, Counts)


def _summed(left: _Summable, right: _Summable) -> _Summable:
    """Field-by-field sum of two counters of one type (merging actors' or stages' counts)."""
    return type(left)(*(getattr(left, f.name) + getattr(right, f.name) for f in fields(left)))


class RunSummary(BaseModel):
    """summary.json: the run score with its uncertainty, per-axis scores, counts and tokens."""

    score: float | None  # clipped mean in [0, 1]
    bootstrap_std: float | None
    ci95: tuple[float, float] | None
    n_samples: int
    n_scored: int
    method: str
    axes: dict[str, float | None] = Field(default_factory=dict)
    counts: Counts = Field(default_factory=Counts)
    tokens: Tokens = Field(default_factory=Tokens)  # the judge's
    policy_tokens: Tokens = Field(default_factory=Tokens)  # the policy's, when it wrote responses
    judge: str = ""
    template: str = ""
    skipped: list[str] = Field(default_factory=list)  # first reasons, for the report
    elapsed_s: float | None = None
    rubricate_version: str = ""
