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

__all__ = [
    "METHODS",
    "Method",
    "RunScore",
    "SampleScore",
    "check_verdict",
    "criterion_value",
    "score_criteria",
    "score_sample",
    "summarize",
]
