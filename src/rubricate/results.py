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
    SerializerFunctionWrapHandler,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_serializer,
    model_validator,
)

from rubricate.rubric import POINTS_LIMIT, Scale
from rubricate.types import Usage

# What a results line may hold; anything else was edited by hand and is refused, located.
_Label = Literal["met", "not_met", "partial", "blocked", "cannot_assess", "error"]
_MethodName = Literal["healthbench", "normalized", "weighted_mean"]
_Finite = Annotated[StrictFloat, AllowInfNan(False)]
_ReplyMissing = Literal["failed_call", "not_cached"]


def _absent(value: object) -> bool:
    """Fields added for kept replies are left out of a line that has none, so a run that
    does not keep replies writes what it always wrote."""
    return value is None


__all__ = [
    "RESPONSE_CHARS",
    "CallCounts",
    "Counts",
    "GroupSummary",
    "JuryVoteRecord",
    "LengthAdjusted",
    "NativeSummary",
    "QuoteRecord",
    "RawReplyRecord",
    "RepliesSummary",
    "RunSummary",
    "SampleResult",
    "Tokens",
    "VerdictRecord",
]

# The ``metadata`` key under which a results line records the graded response's length in
# characters (``len`` of the text), for HealthBench's length-adjusted score.
RESPONSE_CHARS = "response_chars"


class JuryVoteRecord(BaseModel):
    """One jury member's verdict on a criterion, kept beside the jury's."""

    model_config = ConfigDict(extra="ignore")

    judge: StrictStr = Field(min_length=1)  # the member's fingerprint
    verdict: _Label
    probability: StrictFloat | None = Field(default=None, allow_inf_nan=False, ge=0.0, le=1.0)
    level: StrictInt | None = None
    weight: StrictFloat = Field(default=1.0, allow_inf_nan=False, gt=0.0)
    # Position in the line's ``raw_replies`` of this member's reply, when replies were kept.
    raw_reply: StrictInt | None = Field(default=None, ge=0, exclude_if=_absent)


class RawReplyRecord(BaseModel):
    """A judge reply kept on a results line (``--keep-replies``), referenced by position
    from the verdicts (and jury votes) it decided; one grouped reply serves several."""

    model_config = ConfigDict(extra="ignore")

    text: StrictStr | None  # the reply as the judge sent it; None when it cannot be had
    reasks: StrictInt = Field(default=0, ge=0)  # re-asks before this reply (0: first reply)
    missing: _ReplyMissing | None = Field(default=None, exclude_if=_absent)  # why text is None

    @model_validator(mode="after")
    def _text_or_reason(self) -> RawReplyRecord:
        if (self.text is None) != (self.missing is not None):
            raise ValueError("a reply has either its text or the reason it is missing")
        return self


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
    # the judge's own P(met) when a calibration replaced ``probability`` (and the label)
    raw_probability: StrictFloat | None = Field(default=None, allow_inf_nan=False, ge=0.0, le=1.0)
    jury: list[JuryVoteRecord] | None = None  # each member's verdict, when a jury decided
    # The judge's quotes and whether each was found in the response; None = not asked for.
    evidence: list[QuoteRecord] | None = None
    # The judge's own label when ``--evidence strict`` overrode it (a met without a found quote).
    judged: _Label | None = None
    # Position in the line's ``raw_replies`` of the reply that decided this verdict, when
    # replies were kept (a jury's verdict has none: its votes point to their replies).
    raw_reply: StrictInt | None = Field(default=None, ge=0, exclude_if=_absent)

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
    """One line of results.jsonl.

    Everything a run summary needs is on the line, so ``rubricate score`` recomputes the
    summary from results.jsonl alone: the verdicts with their criteria, ``native_scheme``,
    ``metadata.example_tags`` (HealthBench themes) and ``metadata.response_chars``.
    """

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
    # per ``cluster:`` / ``level:`` rubric tag, the score over the criteria carrying it
    clusters: dict[str, _Finite | None] = Field(default_factory=dict)
    gate_failed: list[StrictStr] = Field(default_factory=list)
    # On the benchmark's own scale (WritingBench 1-10, DRB-II recall, ...), when the data names
    # one: ``native_scheme`` says which (``rubricate.scoring.NATIVE_SCHEMES``).
    native_scheme: StrictStr | None = None
    native_score: StrictFloat | None = Field(default=None, allow_inf_nan=False)
    native: dict[str, _Finite | None] = Field(default_factory=dict)
    verdicts: list[VerdictRecord] = Field(min_length=1)
    judge: str = ""
    template: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)
    # The judge replies behind the verdicts, each distinct one once, when the run kept them
    # (``--keep-replies``); absent otherwise.
    raw_replies: list[RawReplyRecord] | None = Field(default=None, exclude_if=_absent)

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

    @model_validator(mode="after")
    def _replies_referenced_exist(self) -> SampleResult:
        """Every ``raw_reply`` points into ``raw_replies``."""
        count = len(self.raw_replies or ())
        for index, record in enumerate(self.verdicts):
            places = [(f"verdicts.{index}.raw_reply", record.raw_reply)]
            places += [
                (f"verdicts.{index}.jury.{k}.raw_reply", vote.raw_reply)
                for k, vote in enumerate(record.jury or ())
            ]
            for place, position in places:
                if position is not None and position >= count:
                    raise ValueError(f"{place} is {position}, but the line has {count} raw_replies")
        return self

    def reply_for(self, position: int | None) -> RawReplyRecord | None:
        """The kept reply at ``position`` (a verdict's or vote's ``raw_reply``)."""
        if position is None or self.raw_replies is None:
            return None
        return self.raw_replies[position]


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
        reasked: items asked again after such a reply: for a judge, criteria (a grouped
            re-ask of four criteria counts 4, in one call), for other models, replies. Not a
            count of calls: the re-asking calls are in ``calls``.
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

    Attributes:
        criteria: criteria of the scored samples.
        judge_calls: judge calls that returned a reply, re-asks included.
        cache_hits: verdicts taken from the cache.
        errors: ``error`` verdicts (failed calls, unparseable replies); not scored.
        cannot_assess: ``cannot_assess`` verdicts; not scored.
        skipped_lines: input items that produced no result line (``--on-invalid skip``).
        failed_calls: judge calls that raised after the backend's retries.
        unparseable_replies: judge replies without a usable verdict.
        reasked: criteria asked again after such a reply. It counts criteria, not calls, so
            it can exceed ``judge_calls`` (a grouped re-ask asks several criteria at once).
        deduplicated: verdicts shared with an identical request already in flight.
        gate_failed: samples whose score was set to the floor by a required criterion.
        policy_calls: calls to the policy model that wrote missing responses.
        policy_cache_hits: responses taken from the cache or an identical pending call.
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


class GroupSummary(BaseModel):
    """The run's score over the samples under one theme or cluster tag (simple-evals'
    ``TAG``, ``TAG:n_samples`` and ``TAG:bootstrap_std``, and a 95 % interval)."""

    score: float | None  # clipped mean in [0, 1]
    bootstrap_std: float | None
    ci95: tuple[float, float] | None
    n_samples: int  # samples with a score under the tag


class NativeSummary(BaseModel):
    """The run on its benchmark's own scale, aggregated as the benchmark's script does
    (``rubricate.scoring.NativeTally``)."""

    scheme: str  # rubricate.scoring.NATIVE_SCHEMES
    score: float | None  # WritingBench 1-10, DRB-II total recall, PRBench normalized, ...
    parts: dict[str, float | None] = Field(default_factory=dict)  # DRB-II dimensions, ...
    n_scored: int


class LengthAdjusted(BaseModel):
    """HealthBench's length-adjusted run score: the clipped mean over scored samples of
    ``score - penalty x (response characters - 2000) / 500``, with its bootstrap."""

    penalty: float
    score: float | None
    bootstrap_std: float | None
    ci95: tuple[float, float] | None
    n_scored: int


class RepliesSummary(BaseModel):
    """The judge replies a run kept (``--keep-replies``), counted per verdict and jury vote."""

    kept: int = 0  # verdicts and votes whose deciding reply is on their results line
    # verdicts and votes whose reply is missing, by reason (failed_call, not_cached)
    missing: dict[str, int] = Field(default_factory=dict)


# Figures present only where they apply: absent from summary.json rather than null.
_OPTIONAL_FIGURES = ("native", "length_adjusted", "replies")


class RunSummary(BaseModel):
    """summary.json: the run score with its uncertainty, per-axis scores, counts and tokens.

    The benchmark figures are computed by the scoring core as samples stream past
    (``rubricate.runs.RunAccumulator``), and recomputed from results.jsonl by
    ``rubricate score``.
    """

    score: float | None  # clipped mean in [0, 1]
    bootstrap_std: float | None
    ci95: tuple[float, float] | None
    n_samples: int
    n_scored: int
    method: str
    axes: dict[str, float | None] = Field(default_factory=dict)
    # when the data names a benchmark with a scale of its own
    native: NativeSummary | None = None
    # per ``theme:`` example tag and per ``cluster:`` / ``level:`` rubric tag (HealthBench)
    themes: dict[str, GroupSummary] = Field(default_factory=dict)
    clusters: dict[str, GroupSummary] = Field(default_factory=dict)
    # when a length penalty was given
    length_adjusted: LengthAdjusted | None = None
    # when the run kept the judge's replies
    replies: RepliesSummary | None = None
    counts: Counts = Field(default_factory=Counts)
    tokens: Tokens = Field(default_factory=Tokens)  # the judge's
    policy_tokens: Tokens = Field(default_factory=Tokens)  # the policy's, when it wrote responses
    judge: str = ""
    template: str = ""
    skipped: list[str] = Field(default_factory=list)  # first reasons, for the report
    # With a jury: rule, agreement statistics and per judge its calls, tokens and agreement
    # with the jury (see ``runs.jury_summary``).
    jury: dict[str, Any] | None = None
    elapsed_s: float | None = None
    rubricate_version: str = ""

    @model_serializer(mode="wrap")
    def _without_absent_figures(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for key in _OPTIONAL_FIGURES:
            if data.get(key, ...) is None:
                del data[key]
        return data
