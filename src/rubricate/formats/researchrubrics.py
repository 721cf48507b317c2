"""ResearchRubrics ``processed_data.jsonl`` (Scale AI): deep-research prompts with weighted rubrics.

A line holds ``sample_id``, ``prompt``, ``domain``, ``conceptual_breadth``,
``logical_nesting``, ``exploration`` and ``rubrics`` = [{criterion, weight, axis}]. Each
rubric becomes a binary criterion worth ``weight`` points (negative weights are pitfalls)
tagged ``axis:<axis>``, as the released evaluator grades Satisfied / Not Satisfied. The
native score is ResearchRubrics' compliance score: sum(weight x score) / sum of positive
weights. The report comes from a ``response`` field or from ``--responses`` keyed by
``sample_id``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from rubricate.errors import InputError
from rubricate.formats._records import messages_from, read_jsonl_numbered, unique_samples
from rubricate.rubric import Criterion, Rubric
from rubricate.types import Sample

__all__ = ["read_researchrubrics", "sample_from_researchrubrics"]

_TASK_FIELDS = ("domain", "conceptual_breadth", "logical_nesting", "exploration")


def _criterion(item: Any, where: str) -> Criterion:
    if not isinstance(item, Mapping):
        raise ValueError(f"'{where}' must be an object")
    text = item.get("criterion")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"'{where}.criterion' must be a non-empty string")
    if "weight" not in item:
        raise KeyError(f"{where}.weight")
    weight = item["weight"]
    if isinstance(weight, bool) or not isinstance(weight, (int, float)):
        raise ValueError(f"'{where}.weight' must be a number, got {weight!r}")
    axis = item.get("axis")
    if axis is not None and (not isinstance(axis, str) or not axis.strip()):
        raise ValueError(f"'{where}.axis' must be a non-empty string")
    return Criterion(text=text, points=float(weight), tags=(f"axis:{axis}",) if axis else ())


def sample_from_researchrubrics(record: Mapping[str, Any]) -> Sample:
    """One ResearchRubrics task as a Sample; ``KeyError``/``ValueError`` name the bad field."""
    sample_id = record.get("sample_id")
    if sample_id is None:
        raise KeyError("sample_id")
    if not isinstance(sample_id, str) or not sample_id:
        raise ValueError(f"'sample_id' must be a non-empty string, got {sample_id!r}")
    if "prompt" not in record:
        raise KeyError("prompt")
    messages = messages_from(record["prompt"], "prompt")
    items = record.get("rubrics")
    if items is None:
        raise KeyError("rubrics")
    if not isinstance(items, list) or not items:
        raise ValueError("'rubrics' must be a non-empty list of criteria")
    criteria: list[Criterion] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        criterion = _criterion(item, f"rubrics[{index}]")
        if criterion.id in seen:  # the same text twice: keep both, as the evaluator grades both
            seen[criterion.id] += 1
            criterion = criterion.model_copy(update={"id": f"{criterion.id}-{seen[criterion.id]}"})
        else:
            seen[criterion.id] = 1
        criteria.append(criterion)
    rubric = Rubric(id=sample_id, criteria=tuple(criteria), metadata={"native": "researchrubrics"})
    response = record.get("response")
    if response is not None and not isinstance(response, str):
        raise ValueError("'response' must be a string")
    metadata = {"benchmark": "researchrubrics"} | {
        key: record[key] for key in _TASK_FIELDS if key in record
    }
    return Sample(sample_id, messages, rubric, response, metadata)


def read_researchrubrics(path: str | Path) -> Iterator[Sample | InputError]:
    """Samples of a ResearchRubrics JSONL file; a bad line, or a ``sample_id`` given twice,
    yields an ``InputError`` naming it."""
    numbered = read_jsonl_numbered(path, lambda record, _: sample_from_researchrubrics(record))
    yield from unique_samples(numbered, str(path), "sample_id")
