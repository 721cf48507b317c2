"""Rubric schema: criteria with signed points, tags, gates and scales."""

from rubricate.rubric._schema import (
    BINARY,
    POINTS_LIMIT,
    Criterion,
    Rubric,
    Scale,
    ScaleKind,
    derive_criterion_id,
)

__all__ = [
    "BINARY",
    "POINTS_LIMIT",
    "Criterion",
    "Rubric",
    "Scale",
    "ScaleKind",
    "derive_criterion_id",
]
