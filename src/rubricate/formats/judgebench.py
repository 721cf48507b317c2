"""JudgeBench pairs: a question, two responses and which one is objectively correct.

A line holds ``pair_id``, ``original_id``, ``source``, ``question``, ``response_A``,
``response_B`` and ``label`` (``"A>B"`` or ``"B>A"``). Read as ``JudgePair`` values for
pairwise comparison (a judge that prefers the labelled response is right); there is no
rubric to grade.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rubricate.errors import InputError
from rubricate.formats._records import read_jsonl_numbered, unique_ids

__all__ = ["JudgePair", "PairLabel", "pair_from_judgebench", "read_judgebench"]

PairLabel = Literal["A>B", "B>A"]


@dataclass(frozen=True, slots=True)
class JudgePair:
    """Two responses to one question; ``label`` names the better one (``None`` if unlabelled)."""

    id: str
    question: str
    response_a: str
    response_b: str
    label: PairLabel | None
    source: str | None = None

    @property
    def better(self) -> Literal["A", "B"] | None:
        """``"A"`` or ``"B"``: the response the label marks as correct."""
        if self.label is None:
            return None
        return "A" if self.label == "A>B" else "B"


def _text(record: Mapping[str, Any], key: str) -> str:
    if key not in record:
        raise KeyError(key)
    value = record[key]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"'{key}' must be a non-empty string")
    return value


def pair_from_judgebench(record: Mapping[str, Any]) -> JudgePair:
    """One JudgeBench line as a ``JudgePair``; ``KeyError``/``ValueError`` name the bad field."""
    label = record.get("label")
    if label is not None and label not in ("A>B", "B>A"):
        raise ValueError(f'\'label\' must be "A>B" or "B>A", got {label!r}')
    source = record.get("source")
    if source is not None and not isinstance(source, str):
        raise ValueError("'source' must be a string")
    return JudgePair(
        id=_text(record, "pair_id"),
        question=_text(record, "question"),
        response_a=_text(record, "response_A"),
        response_b=_text(record, "response_B"),
        label=label,
        source=source,
    )


def read_judgebench(path: str | Path) -> Iterator[JudgePair | InputError]:
    """Pairs of a JudgeBench JSONL file; a bad line, or a ``pair_id`` given twice, yields an
    ``InputError`` naming it."""
    numbered = read_jsonl_numbered(path, lambda record, _: pair_from_judgebench(record))
    yield from unique_ids(
        ((number, item, "pair_id") for number, item in numbered), str(path), "pair"
    )
