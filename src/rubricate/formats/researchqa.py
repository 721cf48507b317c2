"""ResearchQA (Li et al.): scholarly questions with rubric items rated on five coverage levels.

The published file is one JSON array (``researchqa_loader.py``) of
``{id, general_domain, subdomain, field, query, date, rubric: [{rubric_item, type}]}``; a
JSONL file of the same objects is read too. Each rubric item becomes an ordinal criterion
with ResearchQA's five ratings (Not at all, Barely, Moderately, Mostly, Completely: values
1-5) tagged ``type:<type>``. The native score is ResearchQA's coverage: the mean over items
of (rating - 1) / 4. The answer comes from ``--responses`` keyed by ``id``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from rubricate.errors import InputError
from rubricate.formats._records import (
    convert_record,
    messages_from,
    read_jsonl_numbered,
    unique_samples,
)
from rubricate.rubric import Criterion, Rubric, Scale
from rubricate.types import Sample

__all__ = ["RESEARCHQA_SCALE", "read_researchqa", "sample_from_researchqa"]

# ResearchQA's ratings and the definitions its judge prompt gives them, worst first.
RESEARCHQA_SCALE = Scale(
    kind="ordinal",
    levels=(
        "Not at all: totally uninferable",
        "Barely: unmentioned but inferrable",
        "Moderately: mentioned but misses important details",
        "Mostly: mentioned but misses some details",
        "Completely: mentioned with sufficient details",
    ),
    values=(1.0, 2.0, 3.0, 4.0, 5.0),
)
_ITEM_FIELDS = ("general_domain", "subdomain", "field", "date")


def sample_from_researchqa(record: Mapping[str, Any]) -> Sample:
    """One ResearchQA item as a Sample; ``KeyError``/``ValueError`` name the bad field."""
    ident = record.get("id")
    if ident is None:
        raise KeyError("id")
    if not isinstance(ident, str) or not ident:
        raise ValueError(f"'id' must be a non-empty string, got {ident!r}")
    if "query" not in record:
        raise KeyError("query")
    messages = messages_from(record["query"], "query")
    items = record.get("rubric")
    if items is None:
        raise KeyError("rubric")
    if not isinstance(items, list) or not items:
        raise ValueError("'rubric' must be a non-empty list of rubric items")
    criteria: list[Criterion] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        where = f"rubric[{index}]"
        if not isinstance(item, Mapping):
            raise ValueError(f"'{where}' must be an object")
        text = item.get("rubric_item")
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"'{where}.rubric_item' must be a non-empty string")
        kind = item.get("type")
        criterion = Criterion(
            text=text,
            tags=(f"type:{kind}",) if isinstance(kind, str) and kind else (),
            scale=RESEARCHQA_SCALE,
        )
        if criterion.id in seen:
            raise ValueError(f"'{where}.rubric_item' repeats an earlier item")
        seen.add(criterion.id)
        criteria.append(criterion)
    rubric = Rubric(id=ident, criteria=tuple(criteria), metadata={"native": "researchqa"})
    response = record.get("response")
    if response is not None and not isinstance(response, str):
        raise ValueError("'response' must be a string")
    metadata = {"benchmark": "researchqa"} | {k: record[k] for k in _ITEM_FIELDS if k in record}
    return Sample(ident, messages, rubric, response, metadata)


def read_researchqa(path: str | Path) -> Iterator[Sample | InputError]:
    """Samples of a ResearchQA JSON array (or JSONL) file; a bad item, or an ``id`` given
    twice, yields an ``InputError`` naming its position (``line`` is the item's 1-based index
    in an array file)."""
    name = str(path)
    if name.endswith(".jsonl"):
        numbered = read_jsonl_numbered(path, lambda record, _: sample_from_researchqa(record))
        yield from unique_samples(numbered, name, "id")
        return
    # An array has no lines to name: the message counts items, as its other errors do.
    yield from unique_samples(_array_items(path), name, "id", positions="items")


def _array_items(path: str | Path) -> Iterator[tuple[int, Sample | InputError]]:
    name = str(path)
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as error:
        raise InputError(f"cannot open: {error.strerror}", file=name) from error
    except json.JSONDecodeError as error:
        raise InputError(
            f"not valid JSON ({error.msg} at column {error.colno})", file=name, line=error.lineno
        ) from error
    if not isinstance(data, list):
        raise InputError("expected a JSON array of ResearchQA items", file=name)
    for number, record in enumerate(data, start=1):
        if not isinstance(record, dict):
            kind = type(record).__name__
            yield (
                number,
                InputError(f"item {number}: expected a JSON object, got {kind}", file=name),
            )
            continue
        yield number, convert_record(sample_from_researchqa, record, file=name, line=number)
