"""Result records that cross the file boundary: results.jsonl lines and summary.json."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rubricate.rubric import Scale

__all__ = ["Counts", "RunSummary", "SampleResult", "Tokens", "VerdictRecord"]


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
    # On the benchmark's own scale (WritingBench 1-10, DRB-II recall, ...), when the data names one.
    native_score: float | None = None
    native: dict[str, float | None] = Field(default_factory=dict)
    verdicts: list[VerdictRecord]
    judge: str = ""
    template: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)


class Counts(BaseModel):
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


class Tokens(BaseModel):
    prompt: int = 0
    cached_prompt: int = 0
    completion: int = 0


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
    tokens: Tokens = Field(default_factory=Tokens)
    judge: str = ""
    template: str = ""
    skipped: list[str] = Field(default_factory=list)  # first reasons, for the report
    elapsed_s: float | None = None
    rubricate_version: str = ""
