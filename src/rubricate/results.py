"""Result records that cross the file boundary: results.jsonl lines and summary.json."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

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

# What a results line may hold; anything else was edited by hand and is refused, located.
_Label = Literal["met", "not_met", "partial", "blocked", "cannot_assess", "error"]
_MethodName = Literal["healthbench", "normalized", "weighted_mean"]
_Finite = Annotated[StrictFloat, AllowInfNan(False)]

__all__ = ["Counts", "RunSummary", "SampleResult", "Tokens", "VerdictRecord"]


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
