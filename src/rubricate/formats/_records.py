"""Shared pieces of the format readers: JSONL lines, criteria and messages from records."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from rubricate.errors import InputError
from rubricate.rubric import Criterion, Rubric, derive_criterion_id
from rubricate.types import Message

__all__ = [
    "convert_record",
    "criteria_from_records",
    "get_path",
    "iter_jsonl",
    "messages_from",
    "read_jsonl_as",
    "rubric_from",
]

T = TypeVar("T")

_TEXT_KEYS = ("text", "criterion", "description", "title", "rubric")
_POINT_KEYS = ("points", "weight", "score")


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | InputError]]:
    """(line number, object) per non-blank line; an unreadable line yields its ``InputError``."""
    name = str(path)
    try:
        handle = open(path, encoding="utf-8")  # noqa: SIM115 - closed below, generator lifetime
    except OSError as error:
        raise InputError(f"cannot open: {error.strerror}", file=name) from error
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                yield (
                    number,
                    InputError(
                        f"not valid JSON ({error.msg} at column {error.colno})",
                        file=name,
                        line=number,
                    ),
                )
                continue
            if not isinstance(value, dict):
                yield (
                    number,
                    InputError(
                        f"expected a JSON object, got {type(value).__name__}",
                        file=name,
                        line=number,
                    ),
                )
                continue
            yield number, value


def convert_record(
    convert: Callable[..., T], *args: Any, file: str, line: int, **kwargs: Any
) -> T | InputError:
    """``convert(*args, **kwargs)``, or the ``InputError`` naming file and line when it rejects
    its record (``KeyError``: a required field is missing; ``ValueError``: a bad value)."""
    try:
        return convert(*args, **kwargs)
    except KeyError as error:
        return InputError(
            "required field is missing", file=file, line=line, field=str(error.args[0])
        )
    except ValueError as error:
        return InputError(str(error), file=file, line=line)


def read_jsonl_as(
    path: str | Path, convert: Callable[[dict[str, Any], int], T]
) -> Iterator[T | InputError]:
    """``convert(record, line_number)`` per line of a JSONL file, lazily; an unreadable line
    or a rejected record yields an ``InputError`` naming it (see ``convert_record``)."""
    name = str(path)
    for number, record in iter_jsonl(path):
        if isinstance(record, InputError):
            yield record
        else:
            yield convert_record(convert, record, number, file=name, line=number)


def get_path(record: Mapping[str, Any], path: str) -> Any:
    """Value at a dotted path (``reward_model.rubrics``); ``KeyError`` naming the missing part."""
    value: Any = record
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            raise KeyError(path)
    return value


def messages_from(value: Any, field: str) -> tuple[Message, ...]:
    """Chat messages from a list of {role, content} or a plain prompt string."""
    if isinstance(value, str):
        if not value.strip():
            raise ValueError(f"'{field}' is empty")
        return (Message("user", value),)
    if hasattr(value, "tolist"):  # numpy arrays from parquet
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"'{field}' must be a non-empty list of messages or a string")
    messages = []
    for index, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise ValueError(f"'{field}[{index}]' must be an object with role and content")
        role, content = item.get("role"), item.get("content")
        if not isinstance(role, str) or not isinstance(content, str):
            raise ValueError(f"'{field}[{index}]' needs string 'role' and 'content'")
        messages.append(Message(role, content))
    return tuple(messages)


def tags_from(value: Any) -> tuple[str, ...]:
    """Tags as strings; RuscaRL writes them as a mapping ({"axis": "accuracy"} -> "axis:accuracy")."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, Mapping):
        # Parquet fills absent struct keys with None; False means "not tagged".
        return tuple(
            str(key) if item is True else f"{key}:{item}"
            for key, item in value.items()
            if item is not None and item is not False
        )
    if isinstance(value, str):
        return (value,)
    return tuple(str(t) for t in value or ())


def criteria_from_records(items: Any, field: str) -> list[Criterion]:
    """Criteria from HealthBench-style or rubricate-style records, ids made unique."""
    if isinstance(items, str):
        try:
            items = json.loads(items)
        except json.JSONDecodeError as error:
            raise ValueError(f"'{field}' is a string but not JSON: {error.msg}") from error
    if hasattr(items, "tolist"):
        items = items.tolist()
    if isinstance(items, Mapping) and "criteria" in items:
        items = items["criteria"]
    if not isinstance(items, (list, tuple)) or not items:
        raise ValueError(f"'{field}' must be a non-empty list of criteria")
    criteria: list[Criterion] = []
    used: set[str] = set()
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ValueError(f"'{field}[{index}]' must be an object")
        text = next((item[k] for k in _TEXT_KEYS if isinstance(item.get(k), str)), None)
        if text is None:
            raise ValueError(
                f"'{field}[{index}]' has no criterion text (one of {', '.join(_TEXT_KEYS)})"
            )
        points = next((item[k] for k in _POINT_KEYS if k in item), 1.0)
        if isinstance(points, bool) or not isinstance(points, (int, float)):
            raise ValueError(f"'{field}[{index}].points' must be a number, got {points!r}")
        ident = item.get("id") or derive_criterion_id(text)
        base, suffix = str(ident), 2
        while ident in used:  # the same text twice in one rubric
            ident = f"{base}-{suffix}"
            suffix += 1
        used.add(str(ident))
        data: dict[str, Any] = {
            "id": str(ident),
            "text": text,
            "points": float(points),
            "tags": tags_from(item.get("tags")),
            "required": bool(item.get("required", False)),
        }
        if item.get("scale") is not None:
            data["scale"] = item["scale"]
        try:
            criteria.append(Criterion.model_validate(data))
        except ValidationError as error:
            first = error.errors()[0]
            location = ".".join(str(p) for p in first["loc"])
            raise ValueError(f"'{field}[{index}].{location}': {first['msg']}") from error
    return criteria


def rubric_from(
    items: Any, field: str, rubric_id: str, metadata: dict[str, Any] | None = None
) -> Rubric:
    gate_floor = 0.0
    if isinstance(items, Mapping) and isinstance(items.get("gate_floor"), (int, float)):
        gate_floor = float(items["gate_floor"])
    return Rubric(
        id=rubric_id,
        criteria=tuple(criteria_from_records(items, field)),
        gate_floor=gate_floor,
        metadata=metadata or {},
    )
