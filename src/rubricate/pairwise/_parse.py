"""Reading a pairwise decision out of a judge reply, and never out of an echoed response.

Accepted: a JSON object ``{"winner": "A" | "B" | "tie"}`` (for a ``required`` criterion
``{"A": "met" | "not_met", "B": ...}``), fenced or inside prose, and Arena-Hard's verdict
tags ``[[A>>B]]``, ``[[A>B]]``, ``[[A=B]]``, ``[[B>A]]``, ``[[B>>A]]`` anywhere. When a reply
holds several, the last one counts (a judge that reasons first states its verdict last).

A candidate is ignored when it sits inside text copied from either response: together with
the words next to it on its line it occurs in a response, or it lies between a response's
nonce tags.
A response that ends with "[[A>B]]" therefore cannot vote for itself through a judge that
quotes it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from rubricate.judge import normalise_label
from rubricate.pairwise._types import Decision, Winner

__all__ = ["ParsedDecision", "ParsedRequirement", "parse_decision", "parse_requirement"]

_TAG = re.compile(r"\[\[\s*(A\s*>>\s*B|A\s*>\s*B|A\s*=\s*B|B\s*>\s*A|B\s*>>\s*A)\s*\]\]")
_TAGS: dict[str, tuple[Decision, bool]] = {
    "A>>B": ("A>B", True),
    "A>B": ("A>B", False),
    "A=B": ("A=B", False),
    "B>A": ("B>A", False),
    "B>>A": ("B>A", True),
}
_WINNERS: dict[str, Winner] = {"a": "A", "b": "B", "tie": "tie", "equal": "tie", "draw": "tie"}
_DECISION_OF: dict[Winner, Decision] = {"A": "A>B", "B": "B>A", "tie": "A=B"}
_QUOTED = re.compile(r"<(response-[AB]-[0-9a-f]+)>.*?(?:</\1>|\Z)", re.DOTALL)
_decoder = json.JSONDecoder()
# Characters either side of a candidate compared with the responses to detect a quotation.
_CONTEXT = 24


@dataclass(frozen=True, slots=True)
class ParsedDecision:
    """A decision in the positions the judge saw; ``strong`` for ``>>`` tags."""

    decision: Decision
    strong: bool = False

    @property
    def winner(self) -> Winner:
        return "A" if self.decision == "A>B" else "B" if self.decision == "B>A" else "tie"


@dataclass(frozen=True, slots=True)
class ParsedRequirement:
    """Whether each shown response meets a required criterion."""

    first_met: bool
    second_met: bool

    @property
    def winner(self) -> Winner:
        if self.first_met == self.second_met:
            return "tie"
        return "A" if self.first_met else "B"


def _blank_quotes(text: str) -> str:
    """``text`` with spans between response nonce tags blanked out (same length)."""
    return _QUOTED.sub(lambda m: " " * len(m.group(0)), text)


def _echoed(text: str, start: int, end: int, shown: Sequence[str]) -> bool:
    """Whether ``text[start:end]`` with the words next to it on its line occurs in a response."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end == -1 else line_end
    before = text[max(line_start, start - _CONTEXT) : start]
    after = text[end : min(line_end, end + _CONTEXT)]
    snippets = [before + text[start:end]] if before.strip() else []
    if after.strip():
        snippets.append(text[start:end] + after)
    if not snippets:
        snippets.append(text[start:end])
    return any(snippet in response for snippet in snippets for response in shown)


def _json_candidates(text: str) -> Iterator[tuple[int, int, Any]]:
    position = 0
    for match in re.finditer(r"\{", text):
        if match.start() < position:
            continue
        try:
            value, end = _decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        position = end
        yield match.start(), end, value


def _winner_of(value: Any) -> Winner | None:
    if not isinstance(value, dict):
        return None
    winner = value.get("winner")
    if not isinstance(winner, str):
        return None
    return _WINNERS.get(winner.strip().lower().removeprefix("response ").strip())


def parse_decision(text: str, shown: Sequence[str] = ()) -> ParsedDecision | None:
    """The last decision stated in ``text``, or ``None``; ``shown`` are the responses the
    judge was shown, so that copies of them are not read as the judge's own words."""
    visible = _blank_quotes(text)
    found: list[tuple[int, ParsedDecision]] = []
    for match in _TAG.finditer(visible):
        if not _echoed(visible, match.start(), match.end(), shown):
            decision, strong = _TAGS[re.sub(r"\s+", "", match.group(1))]
            found.append((match.start(), ParsedDecision(decision, strong)))
    for start, end, value in _json_candidates(visible):
        winner = _winner_of(value)
        if winner is not None and not _echoed(visible, start, end, shown):
            found.append((start, ParsedDecision(_DECISION_OF[winner])))
    if not found:
        return None
    return max(found, key=lambda item: item[0])[1]


def parse_requirement(text: str, shown: Sequence[str] = ()) -> ParsedRequirement | None:
    """The last ``{"A": "met" | "not_met", "B": ...}`` object in ``text``, or ``None``."""
    visible = _blank_quotes(text)
    last: ParsedRequirement | None = None
    for start, end, value in _json_candidates(visible):
        if not isinstance(value, dict) or _echoed(visible, start, end, shown):
            continue
        labels = {str(k).strip().upper(): normalise_label(v) for k, v in value.items()}
        first, second = labels.get("A"), labels.get("B")
        if first in ("met", "not_met") and second in ("met", "not_met"):
            last = ParsedRequirement(first == "met", second == "met")
    return last
