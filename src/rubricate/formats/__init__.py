"""Readers for external formats; each yields ``Sample`` or the ``InputError`` of a bad record."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Literal

from rubricate.errors import InputError
from rubricate.formats._records import (
    convert_record,
    criteria_from_records,
    get_path,
    iter_jsonl,
    messages_from,
    read_jsonl_as,
    rubric_from,
)
from rubricate.formats.generic import (
    DEFAULT_FIELDS,
    read_generic,
    read_responses,
    sample_from_record,
)
from rubricate.formats.healthbench import ResponseSource, read_healthbench, sample_from_healthbench
from rubricate.formats.verl import read_verl_parquet, rubric_items_from_verl, sample_from_verl_row
from rubricate.types import Sample

Format = Literal["auto", "healthbench", "verl", "jsonl"]

__all__ = [
    "DEFAULT_FIELDS",
    "Format",
    "ResponseSource",
    "convert_record",
    "criteria_from_records",
    "detect_format",
    "get_path",
    "iter_jsonl",
    "messages_from",
    "read_generic",
    "read_healthbench",
    "read_jsonl_as",
    "read_responses",
    "read_samples",
    "read_verl_parquet",
    "rubric_from",
    "rubric_items_from_verl",
    "sample_from_healthbench",
    "sample_from_record",
    "sample_from_verl_row",
]


def detect_format(path: str | Path) -> Format:
    """``verl`` for parquet; ``healthbench`` when the first JSONL line has prompt_id and rubrics."""
    if str(path).endswith(".parquet"):
        return "verl"
    import json

    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    first = json.loads(line)
                    if isinstance(first, dict) and "prompt_id" in first and "rubrics" in first:
                        return "healthbench"
                    break
    except (OSError, ValueError):
        pass
    return "jsonl"


def read_samples(
    path: str | Path,
    *,
    format: Format = "auto",
    fields: Mapping[str, str] | None = None,
    response_source: ResponseSource = "field",
) -> Iterator[Sample | InputError]:
    """Samples of ``path`` in the given (or detected) format, lazily."""
    if not Path(path).exists():
        raise InputError("file not found", file=str(path))
    chosen = detect_format(path) if format == "auto" else format
    if chosen == "healthbench":
        return read_healthbench(path, response_source=response_source)
    if chosen == "verl":
        return read_verl_parquet(path)
    return read_generic(path, fields)


def only_samples(items: Iterator[Sample | InputError]) -> Iterator[Sample]:
    """Samples, raising the first ``InputError`` (the strict ``--on-invalid error`` policy)."""
    for item in items:
        if isinstance(item, InputError):
            raise item
        yield item
