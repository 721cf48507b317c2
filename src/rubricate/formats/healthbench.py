"""HealthBench JSONL: ``prompt`` messages, ``rubrics`` [{criterion, points, tags}], ``prompt_id``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from rubricate.errors import InputError
from rubricate.formats._records import (
    messages_from,
    read_jsonl_numbered,
    rubric_from,
    unique_samples,
)
from rubricate.formats._strict import FieldError, strict_string
from rubricate.types import Sample

ResponseSource = Literal["field", "ideal", "none"]

__all__ = ["ResponseSource", "read_healthbench", "sample_from_healthbench"]


def _ideal(record: Mapping[str, Any]) -> str | None:
    data = record.get("ideal_completions_data")
    if isinstance(data, Mapping):
        text = data.get("ideal_completion")
        if isinstance(text, str) and text.strip():
            return text
    return None


def sample_from_healthbench(
    record: Mapping[str, Any], *, response_source: ResponseSource = "field"
) -> Sample:
    """One HealthBench record as a Sample; ``ValueError`` names the bad field.

    ``response_source``: ``field`` reads ``response`` (or ``completion``) when present,
    ``ideal`` takes the physician-written ideal completion, ``none`` leaves it to be supplied.
    """
    if record.get("prompt_id") is None:
        raise KeyError("prompt_id")
    prompt_id = strict_string(record["prompt_id"], "prompt_id")
    if not prompt_id.strip():
        raise FieldError("prompt_id", "is empty")
    if "prompt" not in record:
        raise KeyError("prompt")
    if "rubrics" not in record:
        raise KeyError("rubrics")
    messages = messages_from(record["prompt"], "prompt")
    metadata: dict[str, Any] = {"example_tags": list(record.get("example_tags") or [])}
    rubric = rubric_from(record["rubrics"], "rubrics", prompt_id)
    response: str | None = None
    if response_source == "ideal":
        response = _ideal(record)
        if response is None:
            raise KeyError("ideal_completions_data.ideal_completion")
    elif response_source == "field":
        for key in ("response", "completion"):
            if record.get(key) is not None:
                response = strict_string(record[key], key)
                break
    return Sample(prompt_id, messages, rubric, response, metadata)


def read_healthbench(
    path: str | Path, *, response_source: ResponseSource = "field"
) -> Iterator[Sample | InputError]:
    """Samples of a HealthBench JSONL file; a bad line yields an ``InputError`` naming it."""
    numbered = read_jsonl_numbered(
        path, lambda record, _: sample_from_healthbench(record, response_source=response_source)
    )
    yield from unique_samples(numbered, str(path), "prompt_id")
