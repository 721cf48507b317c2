"""Turn judge replies into verdicts without ever inventing one.

Accepted shapes: the project's own JSON (``{"verdict": ...}`` and
``{"verdicts": [{"id": ..., "verdict": ...}]}``), the HealthBench grader reply
(``{"explanation": ..., "criteria_met": true}``), either of them fenced in Markdown
or embedded in prose, and a bare one-word answer for a single criterion. Anything
else raises ``VerdictError`` (single criterion) or is reported as missing (groups).

Only the judge's own answer counts. A reply that is one JSON value (structured output, or
an answer that starts at the answer prefix) is the answer. In a longer reply, JSON that
reproduces the graded text (``shown``: verbatim from the conversation or response, inside
an echoed ``<response-...>`` block, or on a Markdown ``>`` quote line) is an echo and never
read; when echoes are present, the answer written after the last echo is preferred.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from rubricate.errors import VerdictError
from rubricate.judge._evidence import read_quotes
from rubricate.judge._lean import lean_verdict
from rubricate.rubric import Criterion
from rubricate.types import Verdict

__all__ = ["json_objects", "normalise_label", "parse_group_reply", "parse_single_reply"]

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
_ECHO_BLOCK = re.compile(r"<(response-[0-9a-f]{16})>.*?(?:</\1>|\Z)", re.DOTALL)
_QUOTE_LINE = re.compile(r"^[ \t]*>.*$", re.MULTILINE)
_decoder = json.JSONDecoder()
# JSON nested deeper than this raises RecursionError in the decoder; a judge never needs it.
_DECODE_ERRORS = (ValueError, RecursionError)

_LABEL_ALIASES = {
    "met": "met",
    "yes": "met",
    "true": "met",
    "criteria_met": "met",
    "satisfied": "met",
    "pass": "met",
    "not_met": "not_met",
    "notmet": "not_met",
    "unmet": "not_met",
    "no": "not_met",
    "false": "not_met",
    "not_satisfied": "not_met",
    "fail": "not_met",
    "partial": "partial",
    "partially_met": "partial",
    "partly_met": "partial",
    "partially_satisfied": "partial",
    "blocked": "blocked",
    "cannot_assess": "cannot_assess",
    "cannot_be_assessed": "cannot_assess",
    "cant_assess": "cannot_assess",
    "not_applicable": "cannot_assess",
    "n/a": "cannot_assess",
    "na": "cannot_assess",
    "unknown": "cannot_assess",
}


def normalise_label(value: Any) -> str | None:
    """Map a judge's verdict word (or boolean) to a label, or ``None`` if it is not one."""
    if isinstance(value, bool):
        return "met" if value else "not_met"
    if not isinstance(value, str):
        return None
    key = re.sub(r"[\s\-]+", "_", value.strip().strip(".!\"'").lower())
    return _LABEL_ALIASES.get(key)


def json_objects(text: str) -> list[Any]:
    """Top-level JSON values in ``text``: the whole text, else fenced blocks, else objects in prose."""
    stripped = text.strip()
    try:
        return [json.loads(stripped)]
    except _DECODE_ERRORS:
        pass
    fenced = []
    for block in _FENCE.findall(text):
        try:
            fenced.append(json.loads(block.strip()))
        except _DECODE_ERRORS:
            continue
    if fenced:
        return fenced
    values = []
    position = 0
    for match in re.finditer(r"[{\[]", text):
        if match.start() < position:
            continue  # inside a value already decoded
        try:
            value, end = _decoder.raw_decode(text, match.start())
        except RecursionError:
            break  # every later bracket is as deep: scanning on would be quadratic
        except ValueError:
            continue
        values.append(value)
        position = end
    return values


@dataclass(frozen=True, slots=True)
class _Found:
    """A JSON value of a reply, where it was written and whether the judge merely echoed it."""

    value: Any
    start: int
    end: int
    fenced: bool
    echo: bool


def _echo_spans(text: str) -> list[tuple[int, int]]:
    spans = [(m.start(), m.end()) for m in _ECHO_BLOCK.finditer(text)]
    spans.extend((m.start(), m.end()) for m in _QUOTE_LINE.finditer(text))
    return spans


def _is_echo(source: str, start: int, end: int, shown: str, spans: list[tuple[int, int]]) -> bool:
    if shown and source.strip() and source.strip() in shown:
        return True
    return any(low <= start and end <= high for low, high in spans)


def _located_values(text: str, shown: str) -> list[_Found]:
    """The judge's own JSON values in ``text``, with echoes of ``shown`` set aside.

    When the reply echoes the graded text, only the values written after the last echo
    count if there are any; echoes themselves never count.
    """
    stripped = text.strip()
    try:
        return [_Found(json.loads(stripped), 0, len(text), False, False)]
    except _DECODE_ERRORS:
        pass
    spans = _echo_spans(text)
    found: list[_Found] = []
    fences: list[tuple[int, int]] = []
    for match in _FENCE.finditer(text):
        block = match.group(1)
        try:
            value = json.loads(block.strip())
        except _DECODE_ERRORS:
            continue
        fences.append((match.start(), match.end()))
        echo = _is_echo(block, match.start(), match.end(), shown, spans)
        found.append(_Found(value, match.start(), match.end(), True, echo))
    position = 0
    for match in re.finditer(r"[{\[]", text):
        start = match.start()
        if start < position or any(low <= start < high for low, high in fences):
            continue
        try:
            value, end = _decoder.raw_decode(text, start)
        except RecursionError:
            break  # every later bracket is as deep: scanning on would be quadratic
        except ValueError:
            continue
        echo = _is_echo(text[start:end], start, end, shown, spans)
        found.append(_Found(value, start, end, False, echo))
        position = end
    found.sort(key=lambda item: item.start)
    echoes = [item.end for item in found if item.echo]
    own = [item for item in found if not item.echo]
    lead = len(text) - len(text.lstrip())
    if own and own[0].start == lead and not own[0].fenced:
        # The reply starts with its answer (where an answer prefix puts it): later values
        # that restate JSON of the graded text, even reformatted, are quotes, not answers.
        mirrored = _canonical_values(shown) if len(own) > 1 else set()
        return [own[0], *(item for item in own[1:] if _canonical(item.value) not in mirrored)]
    if echoes:
        after = [item for item in own if item.start >= max(echoes)]
        own = after or own
    fenced = [item for item in own if item.fenced]
    return fenced or own


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _canonical_values(shown: str) -> set[str]:
    """Every JSON value written in ``shown``, canonically serialised."""
    return {_canonical(value) for value in json_objects(shown)} if shown else set()


def _explanation(obj: Mapping[str, Any]) -> str | None:
    for key in ("explanation", "reason", "reasoning", "rationale"):
        value = obj.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _verdict_from_object(
    obj: Mapping[str, Any], criterion: Criterion, probability: float | None, evidence: bool
) -> Verdict | None:
    """A verdict from one JSON object about ``criterion``, or ``None`` if it holds none that fits.

    With ``evidence``, the object's ``evidence`` quotes (rubricate's and the HealthBench
    reply alike) are kept, unchecked; none given is an empty tuple.
    """
    verdict = _verdict_core(obj, criterion, probability)
    if verdict is None or not evidence:
        return verdict
    return replace(verdict, evidence=read_quotes(obj.get("evidence")) or ())


def _verdict_core(
    obj: Mapping[str, Any], criterion: Criterion, probability: float | None
) -> Verdict | None:
    raw: Any = None
    for key in ("verdict", "criteria_met", "criterion_met", "met", "label", "answer", "decision"):
        if key in obj:
            raw = obj[key]
            break
    label = normalise_label(raw)
    level_raw = obj.get("level")
    explanation = _explanation(obj)
    scale = criterion.scale
    scored = _label_or_level_from_score(obj.get("score"), criterion)
    if isinstance(scored, int):
        if level_raw is not None and level_raw != scored:
            return None  # "level" and "score" disagree: never guess which one was meant
        level_raw = scored
    elif scored is not None:
        if label is not None and label != scored:
            return None
        label = scored
    if scale.kind == "ordinal":
        top = len(scale.levels) - 1
        level: int | None = None
        if isinstance(level_raw, bool):
            level = None
        elif isinstance(level_raw, int):
            level = level_raw
        elif isinstance(level_raw, float) and level_raw.is_integer():
            level = int(level_raw)
        elif isinstance(level_raw, str) and level_raw.strip().isdigit():
            level = int(level_raw.strip())
        if level is None:
            if label == "met":
                level = top
            elif label == "not_met":
                level = 0
            elif label == "cannot_assess":
                return Verdict(criterion.id, "cannot_assess", explanation=explanation)
            else:
                return None
        if not 0 <= level <= top:
            return None
        ordinal_label = "met" if level == top else "not_met" if level == 0 else "partial"
        return Verdict(criterion.id, ordinal_label, level=level, explanation=explanation)
    if label is None or not _label_fits(label, criterion):
        return None
    return Verdict(
        criterion.id,
        label,
        probability=probability if label in ("met", "not_met") else None,
        explanation=explanation,
    )


_BLOCKING_SCORES = {1: "met", 0: "not_met", -1: "blocked"}


def _label_or_level_from_score(score: Any, criterion: Criterion) -> str | int | None:
    """A ``{"score": N}`` answer read on the criterion's own scale: the level whose value is N
    (ordinal scales with values, e.g. WritingBench 1-10), or DeepResearch Bench II's 1 / 0 / -1
    on a blocking scale. ``None`` when N is absent or not on the scale."""
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        return None
    scale = criterion.scale
    if scale.kind == "ordinal" and score in scale.values:
        return scale.values.index(score)
    if scale.kind == "blocking" and float(score).is_integer():
        return _BLOCKING_SCORES.get(int(score))
    return None


def _label_fits(label: str, criterion: Criterion) -> bool:
    if label == "partial":
        return criterion.scale.kind == "ternary"
    if label == "blocked":
        return criterion.scale.kind == "blocking"
    return True


def _p_met(probabilities: Mapping[str, float] | None) -> float | None:
    if not probabilities:
        return None
    met = probabilities.get("met")
    not_met = probabilities.get("not_met")
    if met is None or not_met is None or met + not_met <= 0:
        return None
    return met / (met + not_met)


# The replies a well-behaved judge gives for binary criteria, decoded without JSON parsing.
_CANONICAL = {
    '{"verdict": "met"}': "met",
    '{"verdict": "not_met"}': "not_met",
    '{"verdict":"met"}': "met",
    '{"verdict":"not_met"}': "not_met",
}


def parse_single_reply(
    text: str,
    criterion: Criterion,
    probabilities: Mapping[str, float] | None = None,
    *,
    shown: str = "",
    evidence: bool = False,
) -> Verdict:
    """The verdict on one criterion in ``text``; raises ``VerdictError`` when there is none.

    ``shown`` is the graded text the judge saw (conversation and response): JSON in the
    reply that reproduces it is an echo, never the verdict. When the judge's own objects
    disagree, the reply is rejected rather than guessed. ``evidence``: keep the reply's
    quotes (an empty tuple when it gives none).
    """
    p_met = _p_met(probabilities)
    quotes = () if evidence else None
    canonical = _CANONICAL.get(text.strip())
    if canonical is not None and criterion.scale.kind != "ordinal":
        return lean_verdict(criterion.id, canonical, p_met, quotes)
    found: list[Verdict] = []
    for value in (item.value for item in _located_values(text, shown)):
        candidates: list[Mapping[str, Any]] = []
        if isinstance(value, dict):
            items = value.get("verdicts")
            if isinstance(items, list) and len(items) == 1 and isinstance(items[0], dict):
                candidates.append(items[0])
            else:
                candidates.append(value)
        for candidate in candidates:
            verdict = _verdict_from_object(candidate, criterion, p_met, evidence)
            if verdict is not None:
                found.append(verdict)
    if not found:
        word = text.strip().strip("`").strip()
        label = normalise_label(word) if len(word) <= 20 else None
        if label is not None and _label_fits(label, criterion):
            if criterion.scale.kind == "ordinal":
                verdict = _verdict_from_object({"verdict": label}, criterion, p_met, evidence)
                if verdict is not None:
                    return verdict
            else:
                return Verdict(
                    criterion.id,
                    label,
                    probability=p_met if label in ("met", "not_met") else None,
                    evidence=quotes,
                )
        raise VerdictError(f"no verdict for criterion '{criterion.id}' in the reply", raw=text)
    labels = {(v.label, v.level) for v in found}
    if len(labels) > 1:
        raise VerdictError(f"conflicting verdicts for criterion '{criterion.id}'", raw=text)
    return found[0]


def _group_entries(value: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if isinstance(value, dict):
        items = value.get("verdicts", value.get("criteria", value.get("results")))
        if isinstance(items, (list, dict)):
            value = items
        if isinstance(value, dict):
            for key, entry in value.items():
                if isinstance(entry, dict):
                    yield str(key), entry
                elif normalise_label(entry) is not None:
                    yield str(key), {"verdict": entry}
            return
    if isinstance(value, list):
        for entry in value:
            if isinstance(entry, dict):
                ident = entry.get("id", entry.get("criterion_id"))
                if isinstance(ident, (str, int)):
                    yield str(ident), entry


def parse_group_reply(
    text: str, criteria: Sequence[Criterion], *, shown: str = "", evidence: bool = False
) -> tuple[dict[str, Verdict], list[str]]:
    """Verdicts for the ``criteria`` found in a grouped reply, and the ids still missing.

    Unknown ids are ignored; an id given twice with different verdicts counts as missing.
    JSON reproducing ``shown`` (the graded text) is an echo and never read. ``evidence``:
    keep each entry's quotes.
    """
    by_id = {c.id: c for c in criteria}
    found: dict[str, Verdict] = {}
    conflicted: set[str] = set()
    for value in (item.value for item in _located_values(text, shown)):
        for ident, entry in _group_entries(value):
            criterion = by_id.get(ident)
            if criterion is None:
                continue
            verdict = _verdict_from_object(entry, criterion, None, evidence)
            if verdict is None:
                continue
            previous = found.get(ident)
            if previous is not None and (previous.label, previous.level) != (
                verdict.label,
                verdict.level,
            ):
                conflicted.add(ident)
            found.setdefault(ident, verdict)
    for ident in conflicted:
        found.pop(ident, None)
    missing = [c.id for c in criteria if c.id not in found]
    return found, missing
