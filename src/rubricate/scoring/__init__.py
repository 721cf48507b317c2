"""The one scoring core (pure, synchronous, no I/O)."""

from rubricate.scoring._core import (
    METHODS,
    Method,
    RunScore,
    SampleScore,
    check_verdict,
    criterion_value,
    score_criteria,
    score_sample,
    summarize,
)
from rubricate.scoring._length import (
    LENGTH_FREE_CHARACTERS,
    LENGTH_PENALTY_UNIT,
    length_adjusted_score,
)
from rubricate.scoring._native import (
    DRB2_DIMENSIONS,
    NATIVE_SCHEMES,
    NativeRunScore,
    NativeScheme,
    NativeScore,
    native_sample_score,
    summarize_native,
)
from rubricate.scoring._tags import summarize_tags, tag_scores

__all__ = [
    "DRB2_DIMENSIONS",
    "LENGTH_FREE_CHARACTERS",
    "LENGTH_PENALTY_UNIT",
    "METHODS",
    "NATIVE_SCHEMES",
    "Method",
    "NativeRunScore",
    "NativeScheme",
    "NativeScore",
    "RunScore",
    "SampleScore",
    "check_verdict",
    "criterion_value",
    "length_adjusted_score",
    "native_sample_score",
    "score_criteria",
    "score_sample",
    "summarize",
    "summarize_native",
    "summarize_tags",
    "tag_scores",
]
