"""Strict parsing and validation of LLM-written criteria (pure, no I/O).

A reply is accepted only as one JSON object ``{"criteria": [...]}`` (bare, fenced or in
prose). Nothing is guessed: an item without a usable text, kind or importance is rejected
with a reason, never repaired. The text checks are heuristics aimed at the failures the
literature reports for naive LLM rubrics: vague, compound and prompt-independent criteria.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rubricate.errors import VerdictError
from rubricate.judge import json_objects
from rubricate.rubric import Criterion

__all__ = [
    "IMPORTANCES",
    "KINDS",
    "Rejection",
    "Rules",
    "content_words",
    "criterion_from_item",
    "describe_rejections",
    "parse_criteria_reply",
    "validate_text",
]

KINDS = frozenset({"hard_rule", "principle"})
IMPORTANCES = frozenset({"essential", "important", "optional", "pitfall"})
_AXIS = re.compile(r"^[a-z][a-z_]{1,31}$")

_STOPWORDS = frozenset(
    """a an the and or but if then than that this these those of to in on at by for with from as
    is are was were be been being it its into about over under not no nor do does did doing done
    has have had having can could should would must may might will shall which who whom whose what
    when where why how all any each both either neither such so very more most less least only own
    same other some there their they them he she his her we our you your i me my also just one two
    response responses answer answers assistant user question prompt reply model text output""".split()  # noqa: SIM905 - a word list reads better as text
)
# Words that carry no checkable content on their own.
_VAGUE = frozenset(
    """good great nice well better best bad poor quality high helpful useful appropriate
    appropriately adequate adequately proper properly relevant clear clearly effective
    effectively sufficient sufficiently reasonable reasonably correct correctly accurate
    accurately complete completely thorough thoroughly overall generally general various
    aspects things stuff etc satisfactory suitable suitably fine okay ok""".split()  # noqa: SIM905
)
_VAGUE_PHRASES = re.compile(
    r"\b(etc|and so on|and so forth|and more|as appropriate|as needed|where appropriate|"
    r"if necessary|if needed|in general|high[- ]quality|good quality)\b",
    re.IGNORECASE,
)
_CHECK_VERBS = (
    "mention|mentions|explain|explains|state|states|provide|provides|include|includes|give|gives|"
    "list|lists|describe|describes|use|uses|avoid|avoids|recommend|recommends|ask|asks|identify|"
    "identifies|cite|cites|note|notes|suggest|suggests|warn|warns|address|addresses|discuss|"
    "discusses|define|defines|show|shows|offer|offers|advise|advises|refer|refers|clarify|clarifies"
)
_COMPOUND = re.compile(
    rf"\b(and|as well as|while also|plus)\s+(also\s+)?(it\s+|the response\s+)?"
    rf"({_CHECK_VERBS}|does not|doesn't|do not|is not|never)\b",
    re.IGNORECASE,
)
_ENUMERATION = re.compile(r"(\(\s*[1-9ivx]\s*\)|(^|\s)[1-9][.)]\s)")
_NOT_SELF_CONTAINED = re.compile(
    r"\b(response [ab]|first response|second response|preferred response|worse response|"
    r"chosen response|rejected response|better response|other response|the reference|"
    r"see above|mentioned above|as above|the example|previous criterion|this criterion)\b",
    re.IGNORECASE,
)
_SENTENCE_BREAK = re.compile(r"[.!?]\s+[A-Z]")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def _stem(word: str) -> str:
    # Crude suffix stripping: enough to match "dose"/"doses"/"dosing" between criterion and prompt.
    # A possessive goes first, whole: "smith's" is "smith", not "smith'" after dropping the "s".
    word = word.removesuffix("'s")
    for suffix in ("ing", "ies", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def content_words(text: str) -> set[str]:
    """Stemmed words of ``text`` that carry content (no stopwords, no one-letter tokens)."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return {_stem(w) for w in _WORD.findall(folded) if w not in _STOPWORDS and len(w) > 1}


@dataclass(frozen=True, slots=True)
class Rules:
    """What a strategy accepts.

    ``context`` is the text criteria must relate to (prompt, reference, passages); with an
    empty context the prompt-independence check is off. ``default_kind`` / ``default_axis``
    fill fields a template does not ask for (nuggets); they never override a given value.
    """

    context: str = ""
    kinds: frozenset[str] = KINDS
    importances: frozenset[str] = IMPORTANCES
    default_kind: str | None = None
    default_axis: str | None = None
    min_words: int = 3
    max_words: int = 50

    def context_words(self) -> set[str]:
        return content_words(self.context)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A criterion that failed validation: its text (or the raw item) and the rules it broke."""

    text: str
    reasons: tuple[str, ...]


def parse_criteria_reply(text: str) -> list[Any]:
    """The ``criteria`` list of a reply; ``VerdictError`` when there is not exactly one such object."""
    found = []
    for value in json_objects(text):
        if isinstance(value, dict) and isinstance(value.get("criteria"), list):
            found.append(value["criteria"])
    if not found:
        raise VerdictError('no JSON object with a "criteria" list in the reply', raw=text)
    if len(found) > 1:
        raise VerdictError('several "criteria" objects in the reply; expected one', raw=text)
    criteria: list[Any] = found[0]
    return criteria


def _label(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return re.sub(r"[\s\-]+", "_", value.strip().lower()) or None


def validate_text(text: str, rules: Rules, context_words: set[str] | None = None) -> list[str]:
    """Names of the text rules ``text`` breaks (empty when it passes)."""
    reasons: list[str] = []
    words = text.split()
    if len(words) < rules.min_words:
        reasons.append("too_short")
    if len(words) > rules.max_words:
        reasons.append("too_long")
    if _NOT_SELF_CONTAINED.search(text):
        reasons.append("not_self_contained")
    core = content_words(text)
    if _VAGUE_PHRASES.search(text) or not (core - {_stem(v) for v in _VAGUE}):
        reasons.append("vague")
    body = text.strip().rstrip(".!")
    if (
        ";" in body
        or _SENTENCE_BREAK.search(body)
        or _COMPOUND.search(body)
        or _ENUMERATION.search(body)
    ):
        reasons.append("compound")
    context = rules.context_words() if context_words is None else context_words
    if context and not (core & context):
        reasons.append("prompt_independent")
    return reasons


def criterion_from_item(
    item: Any,
    rules: Rules,
    points: Mapping[str, float],
    context_words: set[str] | None = None,
) -> Criterion | Rejection:
    """A criterion from one LLM-written item, or the ``Rejection`` saying what is wrong with it."""
    if not isinstance(item, dict):
        return Rejection(str(item)[:200], ("not_an_object",))
    text = item.get("criterion")
    if not isinstance(text, str) or not text.strip():
        return Rejection(str(item)[:200], ("no_text",))
    text = " ".join(text.split())
    reasons = validate_text(text, rules, context_words)
    kind = _label(item.get("kind")) or rules.default_kind
    importance = _label(item.get("importance"))
    axis = _label(item.get("axis")) or rules.default_axis
    if kind not in rules.kinds:
        reasons.append("bad_kind")
    if importance not in rules.importances:
        reasons.append("bad_importance")
    if axis is not None and not _AXIS.match(axis):
        reasons.append("bad_axis")
    if reasons or kind is None or importance is None:
        return Rejection(text, tuple(reasons))
    tags = ([f"axis:{axis}"] if axis else []) + [f"kind:{kind}", f"importance:{importance}"]
    return Criterion(text=text, points=points[importance], tags=tuple(tags))


def describe_rejections(rejections: Iterable[Rejection]) -> str:
    """Rejections as the bullet list a re-ask shows the model."""
    return "\n".join(f'- "{r.text}": {", ".join(r.reasons)}' for r in rejections)
