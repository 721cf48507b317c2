"""The one scoring core (pure, synchronous, no I/O)."""

from rubricate.scoring._core import (
    CLUSTER_PREFIXES,
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
    NativeTally,
    native_sample_score,
    summarize_native,
)
from rubricate.scoring._tags import THEME_PREFIX, sample_themes, summarize_tags

__all__ = [
    "CLUSTER_PREFIXES",
    "DRB2_DIMENSIONS",
    "LENGTH_FREE_CHARACTERS",
    "LENGTH_PENALTY_UNIT",
    "METHODS",
    "NATIVE_SCHEMES",
    "THEME_PREFIX",
    "Method",
    "NativeRunScore",
    "NativeScheme",
    "NativeScore",
    "NativeTally",
    "RunScore",
    "SampleScore",
    "check_verdict",
    "criterion_value",
    "length_adjusted_score",
    "native_sample_score",
    "sample_themes",
    "score_criteria",
    "score_sample",
    "summarize",
    "summarize_native",
    "summarize_tags",
]
