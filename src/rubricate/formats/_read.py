"""Reading a data file in its given or detected format."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Literal

from rubricate.errors import ConfigError, InputError
from rubricate.formats._records import MAX_LINE_BYTES
from rubricate.formats.generic import read_generic
from rubricate.formats.healthbench import ResponseSource, read_healthbench
from rubricate.formats.verl import read_verl_parquet
from rubricate.types import Sample

__all__ = ["Format", "detect_format", "only_samples", "read_samples"]

Format = Literal["auto", "healthbench", "verl", "jsonl"]
_FORMATS: tuple[str, ...] = ("auto", "healthbench", "verl", "jsonl")


def detect_format(path: str | Path) -> Format:
    """``verl`` for parquet; ``healthbench`` when the first JSONL line has prompt_id and rubrics."""
    if str(path).endswith(".parquet"):
        return "verl"
    import json

    try:
        with open(path, "rb") as handle:
            for line in iter(lambda: handle.readline(MAX_LINE_BYTES), b""):
                if line.strip():
                    first = json.loads(line.removeprefix(b"\xef\xbb\xbf"))
                    if isinstance(first, dict) and "prompt_id" in first and "rubrics" in first:
                        return "healthbench"
                    break
    except (OSError, ValueError, RecursionError):
        pass  # the reader reports what is wrong with the line, located
    return "jsonl"


def read_samples(
    path: str | Path,
    *,
    format: Format = "auto",
    fields: Mapping[str, str] | None = None,
    response_source: ResponseSource = "field",
) -> Iterator[Sample | InputError]:
    """Samples of ``path`` in the given (or detected) format, lazily."""
    if format not in _FORMATS:
        raise ConfigError(f"unknown format '{format}': choose one of {', '.join(_FORMATS)}")
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
