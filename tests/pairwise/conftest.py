"""Scripted pairwise judges: they read what rubricate rendered and answer like a model would."""

from __future__ import annotations

import re

from rubricate.pairwise import Pair
from rubricate.types import JudgeRequest, Message

_SEAT = re.compile(r"<(response-([AB])-[0-9a-f]+)>\n(.*?)\n</\1>", re.DOTALL)
_CRITERION = re.compile(r'<criterion id="([^"]+)"')


def shown(request: JudgeRequest) -> tuple[str, str]:
    """(response in seat A, response in seat B) of a rendered pairwise request."""
    seats = {seat: text for _, seat, text in _SEAT.findall(request.messages[1].content)}
    return seats["A"], seats["B"]


def criterion_id(request: JudgeRequest) -> str | None:
    found = _CRITERION.findall(request.messages[1].content)
    return found[-1] if found else None


def make_pairs(n: int) -> list[Pair]:
    """``n`` labelled pairs; the correct response says RIGHT, and sits in A for even i."""
    pairs = []
    for i in range(n):
        right, wrong = f"RIGHT answer {i}", f"wrong answer {i}"
        a_first = i % 2 == 0
        pairs.append(
            Pair(
                id=f"p{i}",
                messages=(Message("user", f"question {i}"),),
                response_a=right if a_first else wrong,
                response_b=wrong if a_first else right,
                label="A>B" if a_first else "B>A",
                source="math" if i < n // 2 else "code",
            )
        )
    return pairs
