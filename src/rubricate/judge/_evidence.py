"""Checking the judge's quotes against the response it graded.

A quote counts as found when, after folding case and collapsing whitespace, it is a
substring of the response, or (for quotes of at least ``FUZZY_MIN_CHARS`` characters) when
some window of the response of the quote's length matches it with a ``difflib`` ratio of at
least ``FUZZY_THRESHOLD``: the partial ratio of fuzzy-matching libraries, computed with the
standard library. The fuzzy margin forgives what judges change when they copy (a dropped
comma, straight for curly quotes, a typo), not paraphrase: 0.9 over a 40-character quote
allows about four changed characters. Short quotes must match exactly, because one changed
character in ten is already a different word. A quote with an ellipsis (``...`` or ``…``)
is found when each of its parts is found, in order.

Only the response is searched: a quote that appears only in the prompt, the conversation
or the rubric does not support a verdict about the response.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from difflib import SequenceMatcher

from rubricate.rubric import Criterion
from rubricate.types import Quote, Verdict

__all__ = [
    "FUZZY_MIN_CHARS",
    "FUZZY_THRESHOLD",
    "check_evidence",
    "evidence_status",
    "quote_found",
    "read_quotes",
    "require_evidence",
]

FUZZY_THRESHOLD = 0.9
FUZZY_MIN_CHARS = 20
_MAX_QUOTES = 8  # a judge that lists more is copying the response, not pointing at it
_MAX_QUOTE_CHARS = 1000

_SPACE = re.compile(r"\s+")
_ELLIPSIS = re.compile(r"\.\.\.+|…")
# Judges wrap quotes in quotation marks of their own; straight and curly forms compare alike.
_MARKS = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})


def _fold(text: str) -> str:
    return _SPACE.sub(" ", text.translate(_MARKS).casefold()).strip()


def _partial_ratio(quote: str, text: str) -> float:
    """Best ``difflib`` ratio of ``quote`` against a window of ``text`` of the same length.

    Windows are anchored where the two share a matching block (as fuzzy-matching libraries
    do), so the cost grows with the blocks found, not with every offset of ``text``.
    """
    n = len(quote)
    if n == 0 or len(text) < n:
        return SequenceMatcher(None, quote, text, autojunk=False).ratio() if text else 0.0
    # autojunk off: in a long response, spaces and common letters would count as junk.
    blocks = SequenceMatcher(None, quote, text, autojunk=False).get_matching_blocks()
    best = 0.0
    for block in blocks:
        if block.size == 0:
            continue
        start = min(max(block.b - block.a, 0), len(text) - n)
        ratio = SequenceMatcher(None, quote, text[start : start + n], autojunk=False).ratio()
        if ratio > best:
            best = ratio
            if best == 1.0:
                break
    return best


def _part_at(part: str, text: str, start: int) -> int | None:
    """Where ``part`` ends in ``text`` at or after ``start``, or ``None`` if it is not there."""
    exact = text.find(part, start)
    if exact >= 0:
        return exact + len(part)
    if len(part) < FUZZY_MIN_CHARS:
        return None
    if _partial_ratio(part, text[start:]) >= FUZZY_THRESHOLD:
        # The fuzzy match's end is not tracked: later parts are searched from the same start.
        return start
    return None


def quote_found(quote: str, response: str) -> bool:
    """Whether ``quote`` appears in ``response`` (see the module docstring for the rule)."""
    text = _fold(response)
    parts = [p for p in (_fold(piece).strip("\"' ") for piece in _ELLIPSIS.split(quote)) if p]
    if not parts:
        return False
    position = 0
    for part in parts:
        end = _part_at(part, text, position)
        if end is None:
            return False
        position = end
    return True


def read_quotes(value: object) -> tuple[Quote, ...] | None:
    """The quotes in a reply's ``evidence`` value (a string or a list of strings), unchecked;
    ``None`` when the value holds none of that shape."""
    items: Iterable[object]
    if isinstance(value, str):
        items = [value]
    elif isinstance(value, list):
        items = value
    else:
        return None
    quotes = []
    for item in items:
        if isinstance(item, str) and item.strip():
            quotes.append(Quote(item.strip()[:_MAX_QUOTE_CHARS]))
    return tuple(quotes[:_MAX_QUOTES])


def check_evidence(verdict: Verdict, response: str) -> Verdict:
    """``verdict`` with each quote marked found or not in ``response``; an absent
    ``evidence`` becomes an empty one (asked for, none given)."""
    quotes = verdict.evidence or ()
    checked = tuple(Quote(q.text, quote_found(q.text, response)) for q in quotes)
    return replace(verdict, evidence=checked)


def evidence_status(verdict: Verdict) -> str | None:
    """How a ``met`` verdict is supported: ``verified`` (a quote was found in the response),
    ``unverified`` (quotes, none found) or ``missing`` (no quote); ``None`` for other verdicts
    and when evidence was not asked for."""
    if verdict.label != "met" or verdict.evidence is None:
        return None
    if any(quote.found for quote in verdict.evidence):
        return "verified"
    return "unverified" if verdict.evidence else "missing"


def require_evidence(verdict: Verdict, criterion: Criterion) -> Verdict:
    """``--evidence strict``: a ``met`` without a verified quote counts as ``not_met``.

    Only criteria that reward: a met pitfall stays met, because turning it into not_met
    would raise the score of a response for the judge's failure to quote it. Ordinal
    criteria keep their level (their "met" is a level, not a claim to be quoted).
    """
    if (
        criterion.is_pitfall
        or criterion.scale.kind == "ordinal"
        or evidence_status(verdict) in (None, "verified")
    ):
        return verdict
    return replace(verdict, label="not_met", probability=None)
