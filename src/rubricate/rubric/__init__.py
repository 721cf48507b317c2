"""Rubric schema: criteria with signed points, tags, gates and scales."""

from rubricate.rubric._schema import (
    BINARY,
    Criterion,
    Rubric,
    Scale,
    ScaleKind,
    derive_criterion_id,
)

__all__ = ["BINARY", "Criterion", "Rubric", "Scale", "ScaleKind", "derive_criterion_id"]
