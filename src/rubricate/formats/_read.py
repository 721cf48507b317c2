"""Reading a data file in its given or detected format."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from rubricate.errors import ConfigError, InputError
from rubricate.formats._criteria import criterion_fields_from
from rubricate.formats._records import MAX_LINE_BYTES
from rubricate.formats.drb2 import read_drb2
from rubricate.formats.generic import read_generic
from rubricate.formats.healthbench import ResponseSource, read_healthbench
from rubricate.formats.prbench import read_prbench
from rubricate.formats.researchqa import read_researchqa
from rubricate.formats.researchrubrics import read_researchrubrics
from rubricate.formats.verl import read_verl_parquet
from rubricate.formats.writingbench import read_writingbench
from rubricate.types import Sample

__all__ = ["FORMATS", "Format", "detect_format", "only_samples", "read_samples"]

Format = Literal[
    "auto",
    "healthbench",
    "verl",
    "jsonl",
    "writingbench",
    "drb2",
    "prbench",
    "researchrubrics",
    "researchqa",
    "judgebench",
]
FORMATS: tuple[str, ...] = (
    "auto",
    "healthbench",
    "verl",
    "jsonl",
    "writingbench",
    "drb2",
    "prbench",
    "researchrubrics",
    "researchqa",
    "judgebench",
)
_SNIFF_CHARS = 65536


def _first_record(path: str | Path) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as handle:
            for line in iter(lambda: handle.readline(MAX_LINE_BYTES), b""):
                if line.strip():
                    value = json.loads(line.removeprefix(b"\xef\xbb\xbf"))
                    return value if isinstance(value, dict) else None
    except (OSError, ValueError, RecursionError):
        return None  # the reader reports what is wrong with the line, located
    return None


def _format_of(record: Mapping[str, Any]) -> Format:
    keys = set(record)
    content = record.get("content")
    rubrics = record.get("rubrics")
    first_rubric = rubrics[0] if isinstance(rubrics, list) and rubrics else None
    rubric = record.get("rubric")
    first_item = rubric[0] if isinstance(rubric, list) and rubric else None
    if {"prompt_id", "rubrics"} <= keys:
        return "healthbench"
    if {"index", "query", "checklist"} <= keys:
        return "writingbench"
    if (
        "idx" in keys
        and isinstance(content, Mapping)
        and isinstance(content.get("rubric"), Mapping)
    ):
        return "drb2"
    if {"task", "rubric", "prompt_0"} <= keys:
        return "prbench"
    if (
        {"sample_id", "prompt"} <= keys
        and isinstance(first_rubric, Mapping)
        and {"criterion", "weight", "axis"} <= set(first_rubric)
    ):
        return "researchrubrics"
    if {"id", "query"} <= keys and isinstance(first_item, Mapping) and "rubric_item" in first_item:
        return "researchqa"
    if {"question", "response_A", "response_B"} <= keys:
        return "judgebench"
    return "jsonl"


def detect_format(path: str | Path) -> Format:
    """The format of ``path`` from its name and first record; ``jsonl`` (generic) when no
    native layout matches. ``verl`` for parquet; ``researchqa`` for a JSON array of items
    with ``rubric_item`` entries."""
    name = str(path)
    if name.endswith(".parquet"):
        return "verl"
    if name.endswith(".json"):
        try:
            with open(path, encoding="utf-8") as handle:
                head = handle.read(_SNIFF_CHARS)
        except (OSError, ValueError):
            return "jsonl"
        if head.lstrip().startswith("[") and '"rubric_item"' in head:
            return "researchqa"
        return "jsonl"
    record = _first_record(path)
    return _format_of(record) if record is not None else "jsonl"


def read_samples(
    path: str | Path,
    *,
    format: Format = "auto",
    fields: Mapping[str, str] | None = None,
    response_source: ResponseSource = "field",
) -> Iterator[Sample | InputError]:
    """Samples of ``path`` in the given (or detected) format, lazily.

    ``fields`` applies to the generic ``jsonl`` format, and its ``id`` entry also to
    ``verl`` parquet rows (rows without an id are ``row-N``, N counted from 1). Raises
    ``ConfigError`` for an unknown ``criterion.`` field mapping.
    """
    if format not in FORMATS:
        raise ConfigError(f"unknown format '{format}': choose one of {', '.join(FORMATS)}")
    if not Path(path).exists():
        raise InputError("file not found", file=str(path))
    try:
        criterion_fields_from(fields)
    except ValueError as error:
        raise ConfigError(str(error)) from error
    chosen = detect_format(path) if format == "auto" else format
    if chosen == "healthbench":
        return read_healthbench(path, response_source=response_source)
    if chosen == "verl":
        return read_verl_parquet(path, id_field=(fields or {}).get("id"))
    if chosen == "writingbench":
        return read_writingbench(path)
    if chosen == "drb2":
        return read_drb2(path)
    if chosen == "prbench":
        return read_prbench(path)
    if chosen == "researchrubrics":
        return read_researchrubrics(path)
    if chosen == "researchqa":
        return read_researchqa(path)
    if chosen == "judgebench":
        raise InputError(
            "JudgeBench holds response pairs, not rubrics: read it with "
            "rubricate.formats.read_judgebench (pairwise comparison)",
            file=str(path),
        )
    return read_generic(path, fields)


def only_samples(items: Iterator[Sample | InputError]) -> Iterator[Sample]:
    """Samples, raising the first ``InputError`` (the strict ``--on-invalid error`` policy)."""
    for item in items:
        if isinstance(item, InputError):
            raise item
        yield item
