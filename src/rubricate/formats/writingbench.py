"""WritingBench JSONL: ``index``, ``query``, ``checklist`` of 5 criteria scored 1-10 in bands.

Each checklist item ``{name, criteria_description, "1-2", "3-4", "5-6", "7-8", "9-10"}``
becomes an ordinal criterion with ten levels valued 1..10, each level described by its band,
so the judge answers ``{"level": N}`` or WritingBench's own ``{"score": N}``. The native
score is WritingBench's: the mean of a query's criterion scores, and over a run the mean
of all criterion scores (``rubricate.scoring.native_sample_score``). ``domain1``,
``domain2`` and ``lang`` go to the sample's metadata. The response comes from a
``response`` field or from ``--responses`` keyed by ``index``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from rubricate.errors import InputError
from rubricate.formats._records import messages_from, read_jsonl_numbered, unique_samples
from rubricate.rubric import Criterion, Rubric, Scale
from rubricate.types import Sample

__all__ = ["WRITINGBENCH_BANDS", "read_writingbench", "sample_from_writingbench"]

WRITINGBENCH_BANDS: tuple[str, ...] = ("1-2", "3-4", "5-6", "7-8", "9-10")
_SCORES = tuple(float(score) for score in range(1, 11))


def _text(item: Mapping[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if key not in item:
        raise KeyError(f"{where}.{key}")
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"'{where}.{key}' must be a non-empty string")
    return value


def _criterion(item: Any, where: str) -> Criterion:
    if not isinstance(item, Mapping):
        raise ValueError(f"'{where}' must be an object")
    name = _text(item, "name", where)
    description = _text(item, "criteria_description", where)
    bands = [_text(item, band, where) for band in WRITINGBENCH_BANDS]
    # Scores 2k-1 and 2k share band k; the judge still picks one score of the ten.
    levels = tuple(f"{bands[(score - 1) // 2]}" for score in range(1, 11))
    return Criterion(
        text=f"{name}: {description}",
        scale=Scale(kind="ordinal", levels=levels, values=_SCORES),
    )


def sample_from_writingbench(record: Mapping[str, Any]) -> Sample:
    """One WritingBench record as a Sample; ``KeyError``/``ValueError`` name the bad field."""
    if "index" not in record:
        raise KeyError("index")
    index = record["index"]
    if isinstance(index, bool) or not isinstance(index, (int, str)) or str(index) == "":
        raise ValueError(f"'index' must be an integer or a non-empty string, got {index!r}")
    if "query" not in record:
        raise KeyError("query")
    messages = messages_from(record["query"], "query")
    checklist = record.get("checklist")
    if checklist is None:
        raise KeyError("checklist")
    if not isinstance(checklist, list) or not checklist:
        raise ValueError("'checklist' must be a non-empty list of criteria")
    criteria = [_criterion(item, f"checklist[{i}]") for i, item in enumerate(checklist)]
    seen: set[str] = set()
    for position, criterion in enumerate(criteria):
        if criterion.id in seen:
            raise ValueError(f"'checklist[{position}]' repeats an earlier criterion")
        seen.add(criterion.id)
    sample_id = str(index)
    rubric = Rubric(id=sample_id, criteria=tuple(criteria), metadata={"native": "writingbench"})
    response = record.get("response")
    if response is not None and not isinstance(response, str):
        raise ValueError("'response' must be a string")
    metadata = {"benchmark": "writingbench"} | {
        key: record[key] for key in ("domain1", "domain2", "lang") if key in record
    }
    return Sample(sample_id, messages, rubric, response, metadata)


def read_writingbench(path: str | Path) -> Iterator[Sample | InputError]:
    """Samples of a WritingBench JSONL file; a bad line, or an ``index`` given twice, yields
    an ``InputError`` naming it."""
    numbered = read_jsonl_numbered(path, lambda record, _: sample_from_writingbench(record))
    yield from unique_samples(numbered, str(path), "index")
