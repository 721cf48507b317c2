"""Pairs from data: JudgeBench's fields, a generic field mapping, or two response files joined
on sample id with the rubric from the data."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from rubricate.errors import ConfigError, InputError
from rubricate.formats import (
    Format,
    JudgePair,
    get_path,
    iter_jsonl,
    messages_from,
    read_jsonl_numbered,
    read_judgebench,
    read_responses,
    read_samples,
    rubric_from,
    rubric_items_from,
    unique_ids,
)
from rubricate.pairwise._types import Decision, Pair
from rubricate.types import Message

__all__ = ["PAIR_FIELDS", "pair_from_judgebench_pair", "pair_from_record", "read_pairs"]

# Each target may list alternatives; the first present wins. A --field flag replaces the list.
PAIR_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("pair_id", "id", "sample_id", "uid"),
    "prompt": ("question", "prompt", "messages", "query", "input"),
    "response_a": ("response_A", "response_a", "chosen"),
    "response_b": ("response_B", "response_b", "rejected"),
    "label": ("label",),
    "source": ("source",),
    "rubric": ("rubric", "rubrics", "criteria"),
}
_LABELS: dict[str, Decision] = {"A>B": "A>B", "B>A": "B>A", "A": "A>B", "B": "B>A"}


def pair_from_judgebench_pair(pair: JudgePair) -> Pair:
    """A JudgeBench pair (``rubricate.formats.JudgePair``) to compare holistically."""
    return Pair(
        id=pair.id,
        messages=(Message("user", pair.question),),
        response_a=pair.response_a,
        response_b=pair.response_b,
        label=pair.label,
        source=pair.source,
    )


def _first(record: Mapping[str, Any], paths: tuple[str, ...]) -> tuple[str, Any] | None:
    for path in paths:
        try:
            return path, get_path(record, path)
        except KeyError:
            continue
    return None


def _text(found: tuple[str, Any] | None, paths: tuple[str, ...]) -> str:
    if found is None:
        raise KeyError(paths[0])
    if not isinstance(found[1], str) or not found[1].strip():
        raise ValueError(f"'{found[0]}' must be a non-empty string")
    return found[1]


def pair_from_record(
    record: Mapping[str, Any], fields: Mapping[str, str] | None = None, *, fallback_id: str
) -> Pair:
    """A pair from any record; ``fields`` maps id / prompt / response_a / response_b / label /
    source / rubric to dotted paths (``PAIR_FIELDS`` are the defaults). ``chosen`` and
    ``rejected`` columns read as A and B with no label. Labels: ``A>B``, ``B>A``, ``A``, ``B``."""
    fields = fields or {}
    paths = {key: (fields[key],) if key in fields else alts for key, alts in PAIR_FIELDS.items()}
    found_id = _first(record, paths["id"])
    pair_id = str(found_id[1]) if found_id is not None else fallback_id
    found_prompt = _first(record, paths["prompt"])
    if found_prompt is None:
        raise KeyError(paths["prompt"][0])
    messages = messages_from(found_prompt[1], found_prompt[0])
    response_a = _text(_first(record, paths["response_a"]), paths["response_a"])
    response_b = _text(_first(record, paths["response_b"]), paths["response_b"])
    label: Decision | None = None
    found_label = _first(record, paths["label"])
    if found_label is not None and found_label[1] is not None:
        value = found_label[1]
        if not isinstance(value, str) or value.strip() not in _LABELS:
            raise ValueError(f'\'{found_label[0]}\' must be "A>B" or "B>A", got {value!r}')
        label = _LABELS[value.strip()]
    found_source = _first(record, paths["source"])
    source = None if found_source is None else str(found_source[1])
    found_rubric = _first(record, paths["rubric"])
    rubric = None
    if found_rubric is not None and found_rubric[1] is not None:
        items = rubric_items_from(found_rubric[1], found_rubric[0], {})
        rubric = rubric_from(items, found_rubric[0], pair_id)
    return Pair(pair_id, messages, response_a, response_b, label, source, rubric)


def _joined(
    data: Path,
    responses_a: Path,
    responses_b: Path,
    data_format: Format,
    fields: Mapping[str, str] | None,
) -> Iterator[Pair | InputError]:
    first, second = read_responses(responses_a), read_responses(responses_b)
    for item in read_samples(data, format=data_format, fields=fields):
        if isinstance(item, InputError):
            yield item
            continue
        missing = [str(p) for p, found in ((responses_a, first), (responses_b, second))
                   if item.id not in found]  # fmt: skip
        if missing:
            yield InputError(
                f"no response for sample '{item.id}' in {' and '.join(missing)}",
                file=str(data),
                field="sample_id",
            )
            continue
        yield Pair(item.id, item.messages, first[item.id], second[item.id], rubric=item.rubric)


def read_pairs(
    path: str | Path,
    *,
    fields: Mapping[str, str] | None = None,
    responses_a: str | Path | None = None,
    responses_b: str | Path | None = None,
    data_format: Format = "auto",
) -> Iterator[Pair | InputError]:
    """Pairs of ``path``, lazily; a bad record, or a pair id seen before (a run keys its
    lines by id), yields an ``InputError`` naming file, line, field.

    - With ``responses_a`` and ``responses_b`` (JSONL ``{sample_id, response}``), ``path``
      holds the prompts and rubrics (any format ``rubricate grade`` reads) and each sample
      becomes the pair (its response in A's file, in B's file). A sample id twice in a
      response file raises ``InputError`` (which response is meant cannot be known).
    - Otherwise each line is a pair: JudgeBench's fields, or those ``fields`` names.
    """
    source = Path(path)
    if not source.exists():
        raise InputError("file not found", file=str(path))
    if (responses_a is None) != (responses_b is None):
        raise ConfigError("give both response files (A and B) or neither")
    if responses_a is not None and responses_b is not None:
        for extra in (responses_a, responses_b):
            if not Path(extra).exists():
                raise InputError("file not found", file=str(extra))
        return _joined(source, Path(responses_a), Path(responses_b), data_format, fields)
    unknown = sorted(set(fields or {}) - set(PAIR_FIELDS))
    if unknown:
        raise ConfigError(
            f"unknown pair field {', '.join(unknown)} (expected {', '.join(PAIR_FIELDS)})"
        )
    if not fields and _looks_like_judgebench(source):
        return (
            item if isinstance(item, InputError) else pair_from_judgebench_pair(item)
            for item in read_judgebench(source)
        )
    id_paths = (fields["id"],) if fields and "id" in fields else PAIR_FIELDS["id"]

    def with_id_field(record: dict[str, Any], number: int) -> tuple[Pair, str]:
        found = _first(record, id_paths)
        pair = pair_from_record(record, fields, fallback_id=f"line-{number}")
        return pair, found[0] if found is not None else id_paths[0]

    return unique_ids(
        (
            (number, item, "id") if isinstance(item, InputError) else (number, *item)
            for number, item in read_jsonl_numbered(source, with_id_field)
        ),
        str(source),
        "pair",
    )


def _looks_like_judgebench(path: Path) -> bool:
    for _, record in iter_jsonl(path):
        return not isinstance(record, InputError) and {
            "pair_id", "response_A", "response_B"
        } <= set(record) and "rubric" not in record  # fmt: skip
    return False
