"""Shared pieces of the format readers: JSONL lines, criteria and messages from records."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import ValidationError

from rubricate.errors import InputError
from rubricate.formats._strict import (
    FieldError,
    JsonRejected,
    decode_utf8,
    loads_strict,
    strict_number,
    strict_string,
)
from rubricate.rubric import Criterion, Rubric, derive_criterion_id
from rubricate.types import Message, Sample

__all__ = [
    "MAX_LINE_BYTES",
    "convert_record",
    "criteria_from_records",
    "get_path",
    "iter_jsonl",
    "messages_from",
    "read_jsonl_as",
    "read_jsonl_numbered",
    "rubric_from",
    "unique_ids",
    "unique_samples",
]

T = TypeVar("T")

MAX_LINE_BYTES = 64 * 1024 * 1024  # one record; beyond this it is not data but an accident
_TEXT_KEYS = ("text", "criterion", "description", "title", "rubric")
_POINT_KEYS = ("points", "weight", "score")


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | InputError]]:
    """(line number, object) per non-blank line; an unreadable line yields its ``InputError``.

    Lines are strict JSON (see ``loads_strict``) in UTF-8; a bad byte is reported with its
    line and byte offset, and reading goes on with the next line. A UTF-16 file is refused
    as a whole.
    """
    name = str(path)
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, generator lifetime
    except OSError as error:
        raise InputError(f"cannot open: {error.strerror}", file=name) from error
    with handle:
        offset = 0
        for number, raw in enumerate(iter(lambda: handle.readline(MAX_LINE_BYTES + 1), b""), 1):
            start, offset = offset, offset + len(raw)
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                for rest in iter(lambda: handle.readline(MAX_LINE_BYTES), b""):
                    offset += len(rest)  # the rest of the long line, read in bounded pieces
                    if rest.endswith(b"\n"):
                        break
                limit = MAX_LINE_BYTES // (1024 * 1024)
                yield number, InputError(f"line longer than {limit} MiB", file=name, line=number)
                continue
            if number == 1:
                if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
                    raise InputError(
                        "the file is UTF-16 (byte-order mark); convert it to UTF-8",
                        file=name,
                        line=1,
                    )
                if raw.startswith(b"\xef\xbb\xbf"):
                    raw, start = raw[3:], 3
            if not raw.strip():
                continue
            try:
                value = loads_strict(decode_utf8(raw, offset=start))
            except JsonRejected as error:
                yield number, InputError(str(error), file=name, line=number)
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
    except FieldError as error:
        return InputError(error.reason, file=file, line=line, field=error.field)
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


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


_Item = TypeVar("_Item", bound=_Identified)


def unique_ids(
    items: Iterable[tuple[int, _Item | InputError, str]],
    file: str,
    noun: str,
    *,
    positions: str = "lines",
) -> Iterator[_Item | InputError]:
    """The items of ``items`` (line, item, the field its id came from); an id seen before
    becomes an ``InputError`` naming that field and both lines (a run keys its lines by id,
    so the second would be graded or compared again, or shadow the first). ``positions``
    names what the numbers count in the message: ``items`` for a JSON array's 1-based
    positions, which its reader passes as ``line``."""
    first_line: dict[str, int] = {}
    for number, item, field in items:
        if not isinstance(item, InputError):
            earlier = first_line.get(item.id)
            if earlier is not None:
                item = InputError(
                    f"{noun} id '{item.id}' appears twice ({positions} {earlier} and {number})",
                    file=file,
                    line=number,
                    field=field,
                )
            else:
                first_line[item.id] = number
        yield item


def unique_samples(
    items: Iterable[tuple[int, Sample | InputError]],
    file: str,
    field: str = "id",
    *,
    positions: str = "lines",
) -> Iterator[Sample | InputError]:
    """The samples of ``items``; a sample id seen before becomes an ``InputError`` naming
    ``field`` (the format's own id field) and both positions (it would otherwise be graded
    twice and counted twice)."""
    return unique_ids(
        ((number, item, field) for number, item in items), file, "sample", positions=positions
    )


def read_jsonl_numbered(
    path: str | Path, convert: Callable[[dict[str, Any], int], T]
) -> Iterator[tuple[int, T | InputError]]:
    """Like ``read_jsonl_as``, with each item's line number."""
    name = str(path)
    for number, record in iter_jsonl(path):
        if isinstance(record, InputError):
            yield number, record
        else:
            yield number, convert_record(convert, record, number, file=name, line=number)


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
            raise FieldError(field, "is empty")
        return (Message("user", strict_string(value, field)),)
    if hasattr(value, "tolist"):  # numpy arrays from parquet
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or not value:
        raise FieldError(field, "must be a non-empty list of messages or a string")
    messages = []
    for index, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise FieldError(f"{field}[{index}]", "must be an object with role and content")
        role, content = item.get("role"), item.get("content")
        if not isinstance(role, str) or not isinstance(content, str):
            raise FieldError(f"{field}[{index}]", "needs string 'role' and 'content'")
        messages.append(
            Message(
                strict_string(role, f"{field}[{index}].role"),
                strict_string(content, f"{field}[{index}].content"),
            )
        )
    return tuple(messages)


def tags_from(value: Any, field: str = "tags") -> tuple[str, ...]:
    """Tags as strings; RuscaRL writes them as a mapping ({"axis": "accuracy"} -> "axis:accuracy")."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if value is None:
        return ()
    if isinstance(value, Mapping):
        # Parquet fills absent struct keys with None; False means "not tagged".
        tags = []
        for key, item in value.items():
            if item is None or item is False:
                continue
            name = strict_string(key, field)
            tags.append(
                name if item is True else f"{name}:{strict_string(item, f'{field}.{name}')}"
            )
        return tuple(tags)
    if isinstance(value, str):
        return (strict_string(value, field),)
    if not isinstance(value, (list, tuple)):
        raise FieldError(field, f"must be a list of strings, got {type(value).__name__}")
    return tuple(strict_string(t, f"{field}[{index}]") for index, t in enumerate(value))


def _criterion_text(item: Mapping[str, Any], where: str) -> str:
    key = next((k for k in _TEXT_KEYS if item.get(k) is not None), None)
    if key is None:
        raise FieldError(where, f"has no criterion text (one of {', '.join(_TEXT_KEYS)})")
    text = strict_string(item[key], f"{where}.{key}")
    if not text.strip():
        raise FieldError(f"{where}.{key}", "criterion text is empty")
    return text


def _load_items(items: Any, field: str) -> Any:
    if isinstance(items, str):
        try:
            items = loads_strict(items)
        except JsonRejected as error:
            raise FieldError(field, f"is a string but not JSON: {error}") from None
    if hasattr(items, "tolist"):
        items = items.tolist()
    if isinstance(items, Mapping) and "criteria" in items:
        items = items["criteria"]
    if not isinstance(items, (list, tuple)) or not items:
        raise FieldError(field, "must be a non-empty list of criteria")
    return items


def criteria_from_records(items: Any, field: str) -> list[Criterion]:
    """Criteria from HealthBench-style or rubricate-style records.

    An id given twice is an error naming both places; the same text given twice without ids
    gets suffixed ids (``c_ab12...-2``). Numbers must be finite, ``required`` a boolean,
    text and tags strings: nothing is coerced.
    """
    items = _load_items(items, field)
    criteria: list[Criterion] = []
    explicit: dict[str, int] = {}
    used: set[str] = set()
    for index, item in enumerate(items):
        where = f"{field}[{index}]"
        if not isinstance(item, Mapping):
            raise FieldError(where, "must be an object")
        text = _criterion_text(item, where)
        point_key = next((k for k in _POINT_KEYS if k in item), None)
        points = strict_number(item[point_key], f"{where}.{point_key}") if point_key else 1.0
        required = item.get("required", False)
        if required is None:
            required = False
        if not isinstance(required, bool):
            raise FieldError(f"{where}.required", f"must be true or false, got {required!r}")
        if item.get("id") is not None:
            ident = strict_string(item["id"], f"{where}.id", allow_int=True)
            if not ident.strip():
                raise FieldError(f"{where}.id", "is empty")
            if ident in explicit:
                raise FieldError(
                    f"{where}.id", f"'{ident}' appears twice ({field}[{explicit[ident]}] and here)"
                )
            explicit[ident] = index
        else:
            ident = derive_criterion_id(text)
            base, suffix = ident, 2
            while ident in used:  # the same text twice in one rubric
                ident = f"{base}-{suffix}"
                suffix += 1
        if ident in used:
            raise FieldError(f"{where}.id", f"'{ident}' is already the id of another criterion")
        used.add(ident)
        data: dict[str, Any] = {
            "id": ident,
            "text": text,
            "points": points,
            "tags": tags_from(item.get("tags"), f"{where}.tags"),
            "required": required,
        }
        if item.get("scale") is not None:
            data["scale"] = item["scale"]
        try:
            criteria.append(Criterion.model_validate(data))
        except ValidationError as error:
            first = error.errors()[0]
            location = ".".join(str(p) for p in first["loc"])
            raise FieldError(f"{where}.{location}", first["msg"]) from error
    return criteria


def rubric_from(
    items: Any, field: str, rubric_id: str, metadata: dict[str, Any] | None = None
) -> Rubric:
    gate_floor = 0.0
    if isinstance(items, Mapping) and items.get("gate_floor") is not None:
        gate_floor = strict_number(items["gate_floor"], f"{field}.gate_floor")
    return Rubric(
        id=rubric_id,
        criteria=tuple(criteria_from_records(items, field)),
        gate_floor=gate_floor,
        metadata=metadata or {},
    )
