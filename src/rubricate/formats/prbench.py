"""PRBench JSONL (Scale AI, Professional Reasoning Benchmark, legal and finance).

A line holds ``task`` (the id), ``field``, the conversation as ``prompt_0``, ``response_0``,
``prompt_1``, ... (user and assistant turns, up to ten of each), optional ``reference_texts_N``
lists that PRBench prepends to ``prompt_N`` as "Reference Text i:" blocks, and ``rubric``:
items ``{id, title, annotations: {weight_class, <weight_class>_weight, ...criteria_category...}}``.
A criterion's points are the weight of its class (negative for detrimental criteria); its
category becomes an ``axis:`` tag. The native score is PRBench's: ``normalized`` =
(p - min) / (max - min) beside ``clipped`` = p / max. The final response comes from a
``response`` field or from ``--responses`` keyed by ``task``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from rubricate.errors import InputError
from rubricate.formats._records import read_jsonl_numbered, unique_samples
from rubricate.rubric import Criterion, Rubric
from rubricate.types import Message, Sample

__all__ = ["read_prbench", "sample_from_prbench"]

_MAX_TURNS = 10


def _with_references(record: Mapping[str, Any], turn: int, prompt: str) -> str:
    references = record.get(f"reference_texts_{turn}")
    if references is None:
        return prompt
    if not isinstance(references, list) or not all(isinstance(r, str) for r in references):
        raise ValueError(f"'reference_texts_{turn}' must be a list of strings")
    body = "".join(f"Reference Text {i}:\n{text}\n\n" for i, text in enumerate(references))
    return body + prompt


def _conversation(record: Mapping[str, Any]) -> tuple[Message, ...]:
    messages: list[Message] = []
    for turn in range(_MAX_TURNS):
        for role, key in (("user", f"prompt_{turn}"), ("assistant", f"response_{turn}")):
            value = record.get(key)
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            if not isinstance(value, str):
                raise ValueError(f"'{key}' must be a string")
            text = _with_references(record, turn, value) if role == "user" else value
            messages.append(Message(role, text))
    if not messages:
        raise KeyError("prompt_0")
    return tuple(messages)


def _criterion(item: Any, where: str) -> Criterion:
    if not isinstance(item, Mapping):
        raise ValueError(f"'{where}' must be an object")
    title = item.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ValueError(f"'{where}.title' must be a non-empty string")
    annotations = item.get("annotations")
    if not isinstance(annotations, Mapping):
        raise KeyError(f"{where}.annotations")
    weight_class = annotations.get("weight_class")
    if not isinstance(weight_class, str) or not weight_class.strip():
        raise ValueError(f"'{where}.annotations.weight_class' must be a non-empty string")
    weight_key = weight_class.replace(" ", "_") + "_weight"
    if weight_key not in annotations:
        raise KeyError(f"{where}.annotations.{weight_key}")
    weight = annotations[weight_key]
    if isinstance(weight, bool) or not isinstance(weight, (int, float)):
        raise ValueError(f"'{where}.annotations.{weight_key}' must be a number, got {weight!r}")
    # PRBench takes the last key containing "criteria_category" as the category.
    category = None
    for key, value in annotations.items():
        if "criteria_category" in key:
            category = value
    tags = (f"axis:{category}",) if isinstance(category, str) and category.strip() else ()
    ident = item.get("id")
    return Criterion(
        id=str(ident) if ident is not None and str(ident) else "",
        text=title,
        points=float(weight),
        tags=tags,
    )


def sample_from_prbench(record: Mapping[str, Any]) -> Sample:
    """One PRBench task as a Sample; ``KeyError``/``ValueError`` name the bad field."""
    task = record.get("task")
    if task is None:
        raise KeyError("task")
    if not isinstance(task, (str, int)) or isinstance(task, bool) or str(task) == "":
        raise ValueError(f"'task' must be a non-empty string, got {task!r}")
    messages = _conversation(record)
    rubric_items = record.get("rubric")
    if rubric_items is None:
        raise KeyError("rubric")
    if not isinstance(rubric_items, list) or not rubric_items:
        raise ValueError("'rubric' must be a non-empty list of criteria")
    criteria = tuple(_criterion(item, f"rubric[{i}]") for i, item in enumerate(rubric_items))
    sample_id = str(task)
    rubric = Rubric(id=sample_id, criteria=criteria, metadata={"native": "prbench"})
    response = record.get("response")
    if response is not None and not isinstance(response, str):
        raise ValueError("'response' must be a string")
    metadata: dict[str, Any] = {"benchmark": "prbench"}
    if "field" in record:
        metadata["field"] = record["field"]
    return Sample(sample_id, messages, rubric, response, metadata)


def read_prbench(path: str | Path) -> Iterator[Sample | InputError]:
    """Samples of a PRBench JSONL file; a bad line, or a ``task`` given twice, yields an
    ``InputError`` naming it."""
    numbered = read_jsonl_numbered(path, lambda record, _: sample_from_prbench(record))
    yield from unique_samples(numbered, str(path), "task")
