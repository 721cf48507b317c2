"""Rubric items in any shape, brought to the record shape ``criteria_from_records`` reads.

Accepted: a list of criterion objects, a list of plain strings (each a criterion worth 1
point), or a mapping from category to such a list (each criterion tagged ``axis:CATEGORY``).
Criterion sub-fields are found under their usual names or under the names ``fields`` gives
as ``criterion.text``, ``criterion.points``, ``criterion.tags``, ``criterion.id``,
``criterion.required`` and ``criterion.levels``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rubricate.formats._records import get_path

__all__ = ["CRITERION_FIELDS", "criterion_fields_from", "rubric_items_from"]

CRITERION_FIELDS: tuple[str, ...] = ("text", "points", "tags", "id", "required", "levels")
_PREFIX = "criterion."


def criterion_fields_from(fields: Mapping[str, str] | None) -> dict[str, str]:
    """The ``criterion.*`` entries of a field mapping, keyed by sub-field name.

    Raises ``ValueError`` naming an unknown ``criterion.`` sub-field.
    """
    found: dict[str, str] = {}
    for key, path in (fields or {}).items():
        if not key.startswith(_PREFIX):
            continue
        name = key[len(_PREFIX) :]
        if name not in CRITERION_FIELDS:
            raise ValueError(
                f"unknown field mapping '{key}' (criterion sub-fields: "
                + ", ".join(_PREFIX + f for f in CRITERION_FIELDS)
                + ")"
            )
        found[name] = path
    return found


def _mapped_item(item: Mapping[str, Any], mapping: Mapping[str, str], where: str) -> dict[str, Any]:
    record = dict(item)
    for name, path in mapping.items():
        try:
            value = get_path(item, path)
        except KeyError:
            if name == "text":
                raise ValueError(
                    f"'{where}' has no '{path}' (mapped to criterion.{name})"
                ) from None
            continue
        if name == "levels":
            record["scale"] = {"kind": "ordinal", "levels": _levels(value, f"{where}.{path}")}
        else:
            record[name] = value
    return record


def _levels(value: Any, where: str) -> list[str]:
    if isinstance(value, Mapping):
        value = list(value.values())
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"'{where}' must be a list of level descriptions (worst first)")
    return list(value)


def _items_of(value: Any, where: str, mapping: Mapping[str, str], axis: str | None) -> Any:
    if hasattr(value, "tolist"):  # numpy arrays from parquet
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        return value  # left for criteria_from_records to reject with its own message
    items: list[Any] = []
    for index, item in enumerate(value):
        at = f"{where}[{index}]"
        if isinstance(item, str):
            record: Any = {"text": item}
        elif isinstance(item, Mapping) and mapping:
            record = _mapped_item(item, mapping, at)
        else:
            items.append(item)
            continue
        if axis is not None and isinstance(record, dict):
            tags = record.get("tags") or []
            tags = [tags] if isinstance(tags, str) else list(tags)
            record["tags"] = [*tags, f"axis:{axis}"]
        items.append(record)
    return items


def rubric_items_from(value: Any, field: str, mapping: Mapping[str, str] | None = None) -> Any:
    """``value`` as criterion records (see the module docstring); other shapes pass through
    unchanged so that ``criteria_from_records`` reports them."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(f"'{field}' is a string but not JSON: {error.msg}") from error
    mapping = mapping or {}
    if isinstance(value, Mapping) and "criteria" in value:
        return {
            **value,
            "criteria": _items_of(value["criteria"], f"{field}.criteria", mapping, None),
        }
    if (
        isinstance(value, Mapping)
        and value
        and all(isinstance(v, (list, tuple)) or hasattr(v, "tolist") for v in value.values())
    ):
        items: list[Any] = []
        for category, group in value.items():
            items.extend(_items_of(group, f"{field}.{category}", mapping, str(category)))
        return items or value
    return _items_of(value, field, mapping, None)
