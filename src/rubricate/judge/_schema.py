"""JSON schemas for judge replies, so that a judge cannot answer out of format.

One schema per request: a single criterion's reply is ``{"verdict": ...}`` (with
``explanation``, ``evidence`` and ``level`` when they apply); a group's reply is
``{"verdicts": {"<id>": {...}, ...}}`` keyed by exactly the asked ids. The keyed form,
rather than a list of ``{"id": ...}`` entries, is what pins the ids in the subset of JSON
schema that OpenAI's strict mode, vLLM, SGLang and llama.cpp's grammar converter all
accept (a list could repeat or skip an id). ``rubricate.judge.parse_group_reply`` reads
both forms.

Strings are bounded (``maxLength``) so a small judge held by a grammar cannot loop inside
an explanation until its token budget runs out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rubricate.rubric import Criterion

__all__ = ["SCHEMA_VERSION", "reply_schema"]

# Enters the cache key with the constraint kind: bump it when the schemas below change.
SCHEMA_VERSION = "1"
_EXPLANATION_CHARS = 300
_QUOTE_CHARS = 200
_QUOTES = 3


def _labels(criterion: Criterion) -> list[str]:
    kind = criterion.scale.kind
    if kind == "ordinal":
        # The level decides an ordinal verdict; cannot_assess would be overridden by it.
        return ["met", "partial", "not_met"]
    labels = ["met", "not_met"]
    if kind == "ternary":
        labels.append("partial")
    if kind == "blocking":
        labels.append("blocked")
    labels.append("cannot_assess")
    return labels


def _entry(criterion: Criterion, *, explain: bool, evidence: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    if explain:
        properties["explanation"] = {"type": "string", "maxLength": _EXPLANATION_CHARS}
    if evidence:
        properties["evidence"] = {
            "type": "array",
            "items": {"type": "string", "maxLength": _QUOTE_CHARS},
            "maxItems": _QUOTES,
        }
    properties["verdict"] = {"type": "string", "enum": _labels(criterion)}
    if criterion.scale.kind == "ordinal":
        properties["level"] = {
            "type": "integer",
            "enum": list(range(len(criterion.scale.levels))),
        }
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def reply_schema(
    criteria: Sequence[Criterion], *, explain: bool, evidence: bool, keyed: bool = False
) -> str:
    """The JSON schema (compact JSON text, keys in reply order) of the reply deciding ``criteria``.

    A single criterion gets the single reply unless ``keyed`` (the rubric-first layout,
    whose reply is always the grouped one).
    """
    if len(criteria) == 1 and not keyed:
        schema = _entry(criteria[0], explain=explain, evidence=evidence)
    else:
        entries = {c.id: _entry(c, explain=explain, evidence=evidence) for c in criteria}
        schema = {
            "type": "object",
            "properties": {
                "verdicts": {
                    "type": "object",
                    "properties": entries,
                    "required": list(entries),
                    "additionalProperties": False,
                }
            },
            "required": ["verdicts"],
            "additionalProperties": False,
        }
    return json.dumps(schema, separators=(",", ":"), ensure_ascii=False)
