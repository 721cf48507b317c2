"""Values of rubric generation: inputs, options, outcomes and the output record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from rubricate.errors import ConfigError
from rubricate.results import CallCounts, Tokens
from rubricate.rubric import Criterion, Rubric
from rubricate.types import Message

__all__ = [
    "IMPORTANCE_POINTS",
    "GenerateOptions",
    "Generated",
    "GeneratedRubric",
    "GenerationItem",
    "GenerationStats",
    "Outcome",
    "Provenance",
    "RubricItem",
    "Strategy",
]

Strategy = Literal["from-prompt", "contrastive", "refine", "retrieve", "nuggets"]

# Signed points per importance level (RaR-style categories on HealthBench's point scale).
IMPORTANCE_POINTS: Mapping[str, float] = MappingProxyType(
    {"essential": 5.0, "important": 3.0, "optional": 1.0, "pitfall": -3.0}
)


@dataclass(frozen=True, slots=True)
class GenerationItem:
    """One input of a generation strategy; each strategy reads the fields it needs.

    Attributes:
        id: source id, carried into ``provenance.source_ids``.
        messages: the prompt (a conversation).
        reference: a reference answer (``from-prompt``, ``nuggets``).
        passages: reference passages (``nuggets``).
        chosen, rejected: a preference pair (``contrastive``).
        rubric: an existing rubric (``refine``).
        responses: responses to grade with ``rubric`` (``refine``).
        preferences: ``(better, worse)`` indexes into ``responses`` (``refine``).
    """

    id: str
    messages: tuple[Message, ...]
    reference: str | None = None
    passages: tuple[str, ...] = ()
    chosen: str | None = None
    rejected: str | None = None
    rubric: Rubric | None = None
    responses: tuple[str, ...] = ()
    preferences: tuple[tuple[int, int], ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt_text(self) -> str:
        return "\n\n".join(f"[{m.role}]\n{m.content}" for m in self.messages)


@dataclass(frozen=True, slots=True)
class GenerateOptions:
    """How to write rubrics.

    Attributes:
        min_criteria, max_criteria: bounds on a rubric's size; fewer valid criteria fail the item.
        reasks: bounded re-asks after an unparseable reply or rejected criteria.
        max_tokens: completion budget of one generation call.
        temperature: sampling temperature asked of the generator (backends may fix their own).
        seed: enters every generation cache key, so a new seed asks again.
        importance_points: signed points per importance level.
        dedup_threshold: cosine similarity above which two criteria are one (embedding dedup).
        regenerations: K, extra attempts of the contrastive consistency filter.
        concurrency: items in flight at once.
    """

    min_criteria: int = 2
    max_criteria: int = 8
    reasks: int = 2
    max_tokens: int = 768
    temperature: float = 0.0
    seed: int = 0
    importance_points: Mapping[str, float] = field(default_factory=lambda: dict(IMPORTANCE_POINTS))
    dedup_threshold: float = 0.9
    regenerations: int = 2
    concurrency: int = 4

    def __post_init__(self) -> None:
        if not 1 <= self.min_criteria <= self.max_criteria:
            raise ConfigError("need 1 <= min_criteria <= max_criteria")
        if self.reasks < 0 or self.regenerations < 0:
            raise ConfigError("reasks and regenerations must be 0 or more")
        if self.concurrency < 1:
            raise ConfigError("concurrency must be at least 1")
        missing = {"essential", "important", "optional", "pitfall"} - set(self.importance_points)
        if missing:
            raise ConfigError(f"importance_points lacks {', '.join(sorted(missing))}")
        if self.importance_points["pitfall"] >= 0:
            raise ConfigError("pitfall points must be negative")


# Outcome of one item: kept (first rubric passed), regenerated (kept after a retry),
# dropped (no rubric passed the consistency filter), failed (no valid rubric written).
Outcome = Literal["kept", "regenerated", "dropped", "failed"]


@dataclass(slots=True)
class Generated:
    """What a strategy made of one item (criteria empty unless the outcome is kept or regenerated)."""

    item: GenerationItem
    strategy: str
    outcome: Outcome
    prompt_version: str
    criteria: list[Criterion] = field(default_factory=list)
    attempts: int = 1
    source_ids: list[str] = field(default_factory=list)
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    judged: bool = False  # whether a judge graded responses on the way

    @property
    def written(self) -> bool:
        return self.outcome in ("kept", "regenerated")


class GenerationStats(BaseModel):
    """Counters of a generation run (every failure is counted, none is silent)."""

    items: int = 0
    written: int = 0
    kept: int = 0
    regenerated: int = 0
    dropped: int = 0
    failed: int = 0
    skipped_lines: int = 0
    generator_calls: int = 0
    generator_cache_hits: int = 0
    failed_calls: int = 0
    unparseable_replies: int = 0
    reasks: int = 0
    regeneration_attempts: int = 0
    criteria_accepted: int = 0
    criteria_rejected: int = 0
    rejections: dict[str, int] = Field(default_factory=dict)  # by validation rule
    duplicates_removed: int = 0
    judge_calls: int = 0
    judge_cache_hits: int = 0
    generator_tokens: Tokens = Field(default_factory=Tokens)
    judge_tokens: Tokens = Field(default_factory=Tokens)
    failures: list[str] = Field(default_factory=list)  # first reasons, for the summary

    def fail(self, reason: str) -> None:
        if len(self.failures) < 20:
            self.failures.append(reason)

    def take_calls(self, generator: CallCounts) -> None:
        """Mirror the generator's call counters (``CallCounts`` is where they are counted)."""
        self.generator_calls = generator.calls
        self.generator_cache_hits = generator.cache_hits + generator.deduplicated
        self.failed_calls = generator.failed_calls
        self.unparseable_replies = generator.unparseable_replies
        self.reasks = generator.reasked
        self.generator_tokens = replace(generator.tokens)

    def take_judge_calls(self, judge: CallCounts) -> None:
        """Mirror the grading judge's call counters."""
        self.judge_calls = judge.calls
        self.judge_cache_hits = judge.cache_hits
        self.judge_tokens = replace(judge.tokens)


class RubricItem(BaseModel):
    """One criterion in the HealthBench rubric schema; ``required`` (a gate, a veto in
    comparisons) is written only when set, so other lines keep HealthBench's three keys."""

    model_config = ConfigDict(extra="forbid")

    criterion: str
    points: float
    tags: list[str] = Field(default_factory=list)
    required: bool = False

    @classmethod
    def of(cls, criterion: Criterion) -> RubricItem:
        return cls(
            criterion=criterion.text,
            points=criterion.points,
            tags=list(criterion.tags),
            required=criterion.required,
        )

    @model_serializer(mode="wrap")
    def _required_only_when_set(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if not self.required:
            data.pop("required", None)
        return data


class Provenance(BaseModel):
    """Where a generated rubric came from: enough to reproduce it."""

    strategy: str
    model: str  # the generator's fingerprint
    judge: str | None = None  # the grader's fingerprint, where responses were graded
    prompt_version: str
    source_ids: list[str]
    rubric_fingerprint: str
    outcome: str = "kept"
    attempts: int = 1
    rubricate_version: str = ""
    details: dict[str, Any] = Field(default_factory=dict)


class GeneratedRubric(BaseModel):
    """One output line: a HealthBench record (``prompt_id``, ``prompt``, ``rubrics``) plus provenance.

    ``rubricate grade`` reads these lines as they are.
    """

    prompt_id: str
    prompt: list[dict[str, str]]
    rubrics: list[RubricItem]
    provenance: Provenance
