"""Generic JSONL with a field mapping, and the ``--responses`` file."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from rubricate.errors import InputError
from rubricate.formats._criteria import criterion_fields_from, rubric_items_from
from rubricate.formats._records import (
    get_path,
    iter_jsonl,
    messages_from,
    read_jsonl_numbered,
    rubric_from,
    unique_samples,
)
from rubricate.formats._strict import FieldError, strict_string
from rubricate.types import Sample

__all__ = ["DEFAULT_FIELDS", "read_generic", "read_responses", "sample_from_record"]

# Each target may list alternatives; the first present wins.
DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("sample_id", "id", "prompt_id", "uid"),
    "prompt": ("prompt", "messages", "question", "query", "input"),
    "response": ("response", "completion", "answer", "output"),
    "rubric": ("rubric", "rubrics", "criteria", "reward_model.rubrics"),
}


def _first(record: Mapping[str, Any], paths: tuple[str, ...]) -> tuple[str, Any] | None:
    for path in paths:
        try:
            return path, get_path(record, path)
        except KeyError:
            continue
    return None


def sample_from_record(
    record: Mapping[str, Any],
    fields: Mapping[str, str] | None = None,
    *,
    fallback_id: str,
) -> Sample:
    """A Sample from any record; ``fields`` maps id/prompt/response/rubric to dotted paths,
    and ``criterion.text`` / ``.points`` / ``.tags`` / ``.id`` / ``.required`` / ``.levels``
    to paths inside each rubric item (see ``formats._criteria``)."""
    mapping = {
        key: ((fields[key],) if fields and key in fields else paths)
        for key, paths in DEFAULT_FIELDS.items()
    }
    found_id = _first(record, mapping["id"])
    sample_id = fallback_id
    if found_id is not None:
        sample_id = strict_string(found_id[1], found_id[0], allow_int=True)
        if not sample_id.strip():
            raise FieldError(found_id[0], "is empty")
    found_prompt = _first(record, mapping["prompt"])
    if found_prompt is None:
        raise KeyError(mapping["prompt"][0])
    found_rubric = _first(record, mapping["rubric"])
    if found_rubric is None:
        raise KeyError(mapping["rubric"][0])
    messages = messages_from(found_prompt[1], found_prompt[0])
    items = rubric_items_from(found_rubric[1], found_rubric[0], criterion_fields_from(fields))
    rubric = rubric_from(items, found_rubric[0], sample_id)
    found_response = _first(record, mapping["response"])
    response = None
    if found_response is not None:
        response = strict_string(found_response[1], found_response[0])
    return Sample(sample_id, messages, rubric, response, {})


def read_generic(
    path: str | Path, fields: Mapping[str, str] | None = None
) -> Iterator[Sample | InputError]:
    """Samples of a JSONL file in any layout described by ``fields``."""
    numbered = read_jsonl_numbered(
        path,
        lambda record, number: sample_from_record(record, fields, fallback_id=f"line-{number}"),
    )
    yield from unique_samples(numbered, str(path))


# Benchmarks' own response files key answers by these (WritingBench ``index``, DRB-II ``idx``,
# PRBench ``task``), after rubricate's own names.
_RESPONSE_IDS = (*DEFAULT_FIELDS["id"], "index", "idx", "task")


def read_responses(path: str | Path) -> dict[str, str]:
    """Responses keyed by sample id from JSONL lines ``{"sample_id": ..., "response": ...}``
    (the id may also be ``id``, ``prompt_id``, ``uid``, ``index``, ``idx`` or ``task``).

    Raises ``InputError`` for a line without an id or response, or an id given twice.
    """
    name = str(path)
    responses: dict[str, str] = {}
    lines: dict[str, int] = {}
    for number, record in iter_jsonl(path):
        if isinstance(record, InputError):
            raise record
        found_id = _first(record, _RESPONSE_IDS)
        if found_id is None:
            raise InputError("no sample id", file=name, line=number, field="sample_id")
        found = _first(record, DEFAULT_FIELDS["response"])
        if found is None:
            raise InputError("no response text", file=name, line=number, field="response")
        try:
            key = strict_string(found_id[1], found_id[0], allow_int=True)
            responses_text = strict_string(found[1], found[0])
        except FieldError as error:
            raise InputError(error.reason, file=name, line=number, field=error.field) from None
        if key in lines:
            raise InputError(
                f"sample id '{key}' appears twice (lines {lines[key]} and {number})",
                file=name,
                line=number,
                field=found_id[0],
            )
        lines[key] = number
        responses[key] = responses_text
    return responses
