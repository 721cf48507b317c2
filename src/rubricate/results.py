"""Result records that cross the file boundary: results.jsonl lines and summary.json."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from rubricate.rubric import Scale
from rubricate.types import Usage

__all__ = ["CallCounts", "Counts", "RunSummary", "SampleResult", "Tokens", "VerdictRecord"]


class VerdictRecord(BaseModel):
    """One criterion's verdict as stored in results.jsonl, with what scoring needs."""

    model_config = ConfigDict(extra="ignore")

    criterion_id: str
    criterion: str
    points: float
    tags: list[str] = Field(default_factory=list)
    required: bool = False
    scale: Scale | None = None  # omitted for binary criteria
    verdict: str
    probability: float | None = None  # P(met) in [0, 1] when the judge reported it
    level: int | None = None  # ordinal level index, 0 = worst
    explanation: str | None = None


class SampleResult(BaseModel):
    """One line of results.jsonl."""

    model_config = ConfigDict(extra="ignore")

    sample_id: str
    rubric_id: str = ""
    rubric_fingerprint: str
    gate_floor: float = 0.0
    method: str = "healthbench"
    score: float | None  # HealthBench per-sample score is not clipped
    axes: dict[str, float | None] = Field(default_factory=dict)
    gate_failed: list[str] = Field(default_factory=list)
    verdicts: list[VerdictRecord]
    judge: str = ""
    template: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)


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

    def add_scored(self, criteria: int, errors: int, cannot_assess: int, gate_failed: bool) -> None:
        """Count one scored sample."""
        self.criteria += criteria
        self.errors += errors
        self.cannot_assess += cannot_assess
        self.gate_failed += 1 if gate_failed else 0

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
