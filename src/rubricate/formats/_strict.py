"""Strict JSON for every edge: UTF-8 with a located error, finite numbers, bounded depth.

Python's ``json`` accepts ``NaN`` and ``Infinity``, turns ``1e999`` into ``inf``, keeps
``10**400`` as an exact int that later overflows ``float()``, lets ``"\\ud800"`` through as a
lone surrogate and recurses until ``RecursionError`` on deep nesting. Each of those reached a
score, a traceback or an HTTP 500; here each is a ``JsonRejected`` with a reason instead.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "FieldError",
    "JsonRejected",
    "decode_utf8",
    "loads_strict",
    "strict_number",
    "strict_string",
]

MAX_DEPTH = 64  # nesting levels; real records need fewer than ten
MAX_INT_DIGITS = 18  # beyond this an integer is no count, id or point value
_SURROGATE = re.compile("[\ud800-\udfff]")


class JsonRejected(ValueError):
    """Text that is not strict JSON; the message says what and where."""


class FieldError(ValueError):
    """A bad value in a record, naming its field (``rubrics[2].points``)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"'{field}' {reason}")
        self.field = field
        self.reason = reason


def _reject_constant(name: str) -> Any:
    raise JsonRejected(f"{name} is not a JSON number (only finite numbers are accepted)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonRejected(f"number {text[:40]} is out of range")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise JsonRejected(f"integer with {len(text.lstrip('-'))} digits is out of range")
    return int(text)


_decoder = json.JSONDecoder(
    parse_constant=_reject_constant, parse_float=_finite_float, parse_int=_bounded_int
)


def _check_tree(value: Any, *, strings: bool) -> None:
    """Depth (and, with ``strings``, lone surrogates), walked without recursion.

    Only containers are visited unless ``strings``: a lone surrogate can only come from a
    ``\\uD8xx`` escape, so the text is searched for one before strings are looked at.
    """
    if not isinstance(value, (dict, list)):
        if strings and isinstance(value, str):
            _check_string(value)
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise JsonRejected(f"nested more than {MAX_DEPTH} levels deep")
        children = item.values() if isinstance(item, dict) else item
        if strings and isinstance(item, dict):
            for key in item:
                _check_string(key)
        for inner in children:
            if isinstance(inner, (dict, list)):
                stack.append((inner, depth + 1))
            elif strings and isinstance(inner, str):
                _check_string(inner)


def _check_string(text: str) -> None:
    found = _SURROGATE.search(text)
    if found is not None:
        raise JsonRejected(
            f"string holds a lone surrogate (\\u{ord(found.group()):04x}), not Unicode text"
        )


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def loads_strict(text: str | bytes) -> Any:
    """One JSON value, or ``JsonRejected`` saying why it is not strict, bounded JSON."""
    if isinstance(text, (bytes, bytearray)):
        text = decode_utf8(bytes(text))
    try:
        value, end = _decoder.raw_decode(text, _skip_space(text, 0))
    except JsonRejected:
        raise
    except RecursionError:
        raise JsonRejected(f"nested more than {MAX_DEPTH} levels deep") from None
    except json.JSONDecodeError as error:
        raise JsonRejected(
            f"not valid JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from None
    except ValueError as error:  # int() refusing a huge literal, or similar
        raise JsonRejected(f"not valid JSON ({error})") from None
    if _skip_space(text, end) != len(text):
        raise JsonRejected(f"not valid JSON (extra data at character {end + 1})")
    _check_string(text)  # raw lone surrogates (text handed over as str, not decoded bytes)
    _check_tree(value, strings=_SURROGATE_ESCAPE.search(text) is not None)
    return value


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def decode_utf8(raw: bytes, *, offset: int = 0) -> str:
    """``raw`` as text, or ``JsonRejected`` naming the byte offset (``offset`` + position)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise JsonRejected(
                "the file is UTF-16 (byte-order mark); convert it to UTF-8"
            ) from None
        bad = raw[error.start : error.start + 1].hex()
        raise JsonRejected(
            f"not UTF-8: byte 0x{bad} at byte offset {offset + error.start}"
        ) from None


def strict_number(value: Any, field: str, *, limit: float = 1e9) -> float:
    """A finite number within ``±limit`` (booleans are not numbers), as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FieldError(field, f"must be a number, got {_kind(value)}")
    if isinstance(value, int) and len(str(abs(value))) > MAX_INT_DIGITS:
        raise FieldError(field, "is out of range")
    number = float(value)
    if not math.isfinite(number) or abs(number) > limit:
        raise FieldError(field, f"must be a finite number within ±{limit:g}, got {value!r}")
    return number


def strict_string(value: Any, field: str, *, allow_int: bool = False) -> str:
    """A string (or, with ``allow_int``, an integer id) as text; nothing else is coerced."""
    if isinstance(value, str):
        if _SURROGATE.search(value):
            raise FieldError(field, "holds a lone surrogate, not Unicode text")
        return value
    if allow_int and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    expected = "a string or an integer" if allow_int else "a string"
    raise FieldError(field, f"must be {expected}, got {_kind(value)}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"number {value!r}"
    if isinstance(value, str):
        return f"string {value[:40]!r}"
    return type(value).__name__
