"""Generation inputs from JSONL records and output records in the HealthBench rubric schema."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from rubricate.errors import InputError
from rubricate.formats import get_path, messages_from, read_jsonl_as, rubric_from
from rubricate.generate._types import GeneratedRubric, GenerationItem, Provenance, RubricItem
from rubricate.rubric import Criterion, Rubric
from rubricate.types import Message
from rubricate.version import __version__

__all__ = ["item_from_record", "read_generation_items", "record_rubric", "rubric_record"]

# Each target lists alternatives; the first present wins.
_ID = ("prompt_id", "pair_id", "id", "sample_id", "uid")
_PROMPT = ("prompt", "messages", "question", "query", "input")
_REFERENCE = (
    "reference",
    "reference_answer",
    "ideal_completion",
    "ideal_completions_data.ideal_completion",
)
_PASSAGES = ("passages", "documents", "contexts")
_RUBRIC = ("rubrics", "rubric", "criteria")


def _first(record: Mapping[str, Any], paths: Sequence[str]) -> tuple[str, Any] | None:
    for path in paths:
        try:
            value = get_path(record, path)
        except KeyError:
            continue
        if value is not None:
            return path, value
    return None


def _text(record: Mapping[str, Any], key: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"'{key}' must be a string")
    return value


def _pair(record: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(chosen, rejected) from ``chosen``/``rejected`` or JudgeBench's ``response_A/B`` + ``label``."""
    chosen, rejected = _text(record, "chosen"), _text(record, "rejected")
    if chosen is not None or rejected is not None:
        return chosen, rejected
    label = record.get("label")
    a, b = _text(record, "response_A"), _text(record, "response_B")
    if a is None or b is None or label is None:
        return None, None
    if label == "A>B":
        return a, b
    if label == "B>A":
        return b, a
    raise ValueError(f"'label' must be 'A>B' or 'B>A' for a preference pair, got {label!r}")


def _passages(value: Any, field: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"'{field}' must be a string or a list")
    out = []
    for index, entry in enumerate(value):
        text = entry.get("text") if isinstance(entry, Mapping) else entry
        if not isinstance(text, str):
            raise ValueError(f"'{field}[{index}]' must be a string or an object with 'text'")
        out.append(text)
    return tuple(out)


def _preferences(value: Any, n: int) -> tuple[tuple[int, int], ...]:
    if not isinstance(value, (list, tuple)):
        raise ValueError("'preferences' must be a list of [better, worse] index pairs")
    pairs = []
    for index, entry in enumerate(value):
        ok = isinstance(entry, (list, tuple)) and len(entry) == 2
        if (
            not ok
            or not all(isinstance(i, int) and 0 <= i < n for i in entry)
            or entry[0] == entry[1]
        ):
            raise ValueError(
                f"'preferences[{index}]' must be two different indexes into 'responses'"
            )
        pairs.append((int(entry[0]), int(entry[1])))
    return tuple(pairs)


def item_from_record(record: Mapping[str, Any], *, fallback_id: str) -> GenerationItem:
    """A ``GenerationItem`` from any supported record; ``KeyError``/``ValueError`` name the bad field."""
    found_id = _first(record, _ID)
    item_id = str(found_id[1]) if found_id is not None else fallback_id
    found_prompt = _first(record, _PROMPT)
    if found_prompt is None:
        raise KeyError(_PROMPT[0])
    messages = messages_from(found_prompt[1], found_prompt[0])
    found_reference = _first(record, _REFERENCE)
    reference = found_reference[1] if found_reference is not None else None
    if reference is not None and not isinstance(reference, str):
        raise ValueError(f"'{found_reference[0]}' must be a string")  # type: ignore[index]
    found_passages = _first(record, _PASSAGES)
    passages = _passages(found_passages[1], found_passages[0]) if found_passages else ()
    chosen, rejected = _pair(record)
    found_rubric = _first(record, _RUBRIC)
    rubric = rubric_from(found_rubric[1], found_rubric[0], item_id) if found_rubric else None
    responses: tuple[str, ...] = ()
    preferences: tuple[tuple[int, int], ...] = ()
    if record.get("responses") is not None:
        raw = record["responses"]
        if not isinstance(raw, list) or not all(isinstance(r, str) for r in raw):
            raise ValueError("'responses' must be a list of strings")
        responses = tuple(raw)
        if record.get("preferences") is not None:
            preferences = _preferences(record["preferences"], len(responses))
    elif chosen is not None and rejected is not None:
        responses, preferences = (chosen, rejected), ((0, 1),)
    return GenerationItem(
        id=item_id,
        messages=messages,
        reference=reference,
        passages=passages,
        chosen=chosen,
        rejected=rejected,
        rubric=rubric,
        responses=responses,
        preferences=preferences,
    )


def read_generation_items(path: str | Path) -> Iterator[GenerationItem | InputError]:
    """Items of a JSONL file, lazily; a bad line yields an ``InputError`` naming it."""
    if not Path(path).exists():
        raise InputError("file not found", file=str(path))
    yield from read_jsonl_as(
        path, lambda record, number: item_from_record(record, fallback_id=f"line-{number}")
    )


def record_rubric(items: Sequence[RubricItem], rubric_id: str) -> Rubric:
    """The rubric ``rubricate grade`` will read from these items (same ids, same fingerprint)."""
    return rubric_from([i.model_dump() for i in items], "rubrics", rubric_id)


def rubric_record(
    item: GenerationItem,
    criteria: Sequence[Criterion],
    *,
    strategy: str,
    model: str,
    prompt_version: str,
    source_ids: Sequence[str],
    judge: str | None = None,
    outcome: str = "kept",
    attempts: int = 1,
    details: dict[str, Any] | None = None,
) -> GeneratedRubric:
    """The output line for ``criteria`` written for ``item``."""
    items = [RubricItem.of(c) for c in criteria]
    fingerprint = record_rubric(items, item.id).fingerprint
    return GeneratedRubric(
        prompt_id=item.id,
        prompt=[_message(m) for m in item.messages],
        rubrics=items,
        provenance=Provenance(
            strategy=strategy,
            model=model,
            judge=judge,
            prompt_version=prompt_version,
            source_ids=list(source_ids),
            rubric_fingerprint=fingerprint,
            outcome=outcome,
            attempts=attempts,
            rubricate_version=__version__,
            details=details or {},
        ),
    )


def _message(message: Message) -> dict[str, str]:
    return {"role": message.role, "content": message.content}
