"""Reading a dataset from the command line, shared by every command that grades one.

The DATA argument and the ``--format``, ``--field``, ``--response-source`` and
``--responses`` options are declared here once, and ``sample_reader`` turns them into a
fresh iterator of samples (or located ``InputError`` items) each time it is called.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Literal

import typer

from rubricate.errors import ConfigError, InputError
from rubricate.formats import CRITERION_FIELDS, FORMATS, Format, read_responses, read_samples
from rubricate.types import Sample

__all__ = [
    "DataArgument",
    "FieldOption",
    "FormatOption",
    "Items",
    "ResponseSource",
    "ResponseSourceOption",
    "ResponsesOption",
    "limited",
    "parse_fields",
    "sample_reader",
    "with_responses",
]

Items = Iterator[Sample | InputError]
ResponseSource = Literal["field", "ideal"]

DataArgument = Annotated[
    Path,
    typer.Argument(
        help="Benchmark JSONL (HealthBench, WritingBench, DRB-II, PRBench, ResearchRubrics), "
        "ResearchQA JSON, verl parquet, or any JSONL with --field mappings (see --format)."
    ),
]
FormatOption = Annotated[
    Format,
    typer.Option(
        help="Reader: 'auto' detects it from the file (see the README's Datasets table); "
        f"one of {', '.join(FORMATS)}."
    ),
]
FieldOption = Annotated[
    list[str] | None,
    typer.Option(
        "--field",
        metavar="TARGET=PATH",
        help="Where generic JSONL keeps id, prompt, response and rubric (id also for verl "
        "rows), and inside each rubric item criterion.text, criterion.points, "
        "criterion.tags, criterion.id, criterion.required, criterion.levels "
        "(e.g. --field rubric=checklist --field criterion.text=name); repeatable.",
    ),
]
ResponseSourceOption = Annotated[
    ResponseSource,
    typer.Option(
        help="HealthBench: 'field' (the line's response) or 'ideal' (the physician-written completion)."
    ),
]
ResponsesOption = Annotated[
    Path | None, typer.Option(help="JSONL of {sample_id, response} to grade instead.")
]

_TARGETS = ("id", "prompt", "response", "rubric")
_CRITERION = "criterion."


def parse_fields(values: list[str] | None) -> dict[str, str] | None:
    """``--field rubric=reward_model.rubrics`` and ``--field criterion.text=name`` pairs as a
    mapping; raises ``ConfigError`` naming a malformed pair or an unknown target."""
    if not values:
        return None
    mapping: dict[str, str] = {}
    for value in values:
        key, sep, path = value.partition("=")
        if not sep or not key or not path:
            raise ConfigError(
                f"--field '{value}': expected TARGET=PATH (e.g. rubric=meta.criteria)"
            )
        if key.startswith(_CRITERION):
            if key[len(_CRITERION) :] not in CRITERION_FIELDS:
                raise ConfigError(
                    f"--field '{value}': unknown criterion sub-field '{key[len(_CRITERION) :]}' "
                    f"(expected one of {', '.join(_CRITERION + f for f in CRITERION_FIELDS)})"
                )
        elif key not in _TARGETS:
            raise ConfigError(
                f"--field '{value}': unknown target '{key}' (expected one of "
                f"{', '.join(_TARGETS)}, or criterion.<{'|'.join(CRITERION_FIELDS)}>)"
            )
        mapping[key] = path
    return mapping


def with_responses(items: Items, responses: dict[str, str], path: Path) -> Items:
    """Each sample with its response from the ``--responses`` file (a missing one is an error)."""
    for item in items:
        if isinstance(item, Sample):
            text = responses.get(item.id)
            if text is None:
                yield InputError(
                    f"no response for sample '{item.id}'", file=str(path), field="sample_id"
                )
                continue
            item = item.with_response(text)
        yield item


def limited(items: Items, limit: int | None) -> Items:
    """The items up to the ``limit``-th sample (errors before it included)."""
    if limit is None:
        yield from items
        return
    taken = 0
    for item in items:
        if taken >= limit:
            return
        if isinstance(item, Sample):
            taken += 1
        yield item


def sample_reader(
    data: Path,
    *,
    format: Format,
    fields: dict[str, str] | None,
    response_source: ResponseSource,
    responses: Path | None,
    limit: int | None = None,
) -> Callable[[], Items]:
    """A function that reads ``data`` afresh on each call, as the options above describe.

    The ``--responses`` file is read once, here, so that its errors come before any
    judge is built.
    """
    answers = read_responses(responses) if responses is not None else None

    def read() -> Items:
        items = read_samples(data, format=format, fields=fields, response_source=response_source)
        if answers is not None and responses is not None:
            items = with_responses(items, answers, responses)
        return limited(items, limit)

    return read
