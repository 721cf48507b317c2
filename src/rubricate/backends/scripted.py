"""An in-process judge that answers from a function: for unit tests and engine benchmarks.

It never stands in for a real model in integration tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from rubricate.backends._protocol import JudgeBase
from rubricate.types import JudgeReply, JudgeRequest, Usage

__all__ = ["ScriptedJudge", "criteria_in"]

_CRITERION = re.compile(r'<criterion id="([^"]+)"[^>]*>\n(.*?)\n</criterion>', re.DOTALL)

Decide = Callable[[str, str], str]  # (criterion id, criterion text) -> label


def criteria_in(request: JudgeRequest) -> list[tuple[str, str]]:
    """(id, text) of the criteria a rubricate prompt asks about, in order.

    Read from the last message that holds criteria: a re-ask appends messages after it.
    """
    for message in reversed(request.messages):
        found = _CRITERION.findall(message.content)
        if found:
            return found
    return []


class ScriptedJudge(JudgeBase):
    """Answers every request at once with verdicts from ``decide`` (or raw text from ``reply``).

    ``reply`` receives the whole request, sampling settings included, like the handler of
    httpx's ``MockTransport``.

    Attributes:
        calls: requests answered so far.
    """

    def __init__(
        self,
        decide: Decide | None = None,
        *,
        reply: Callable[[JudgeRequest], str] | None = None,
        fingerprint: str = "scripted",
        probability: float | None = None,
    ) -> None:
        self.decide = decide or (lambda _id, _text: "met")
        self.reply = reply
        self.fingerprint = fingerprint
        self.probability = probability
        self.calls = 0

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        self.calls += 1
        if self.reply is not None:
            text = self.reply(request)
        else:
            found = [c for c in criteria_in(request) if c[0] in request.criterion_ids]
            if len(request.criterion_ids) == 1 and found:
                text = json.dumps({"verdict": self.decide(*found[0])})
            else:
                text = json.dumps(
                    {"verdicts": [{"id": i, "verdict": self.decide(i, t)} for i, t in found]}
                )
        probabilities = None
        if self.probability is not None and request.choices:
            probabilities = {"met": self.probability, "not_met": 1.0 - self.probability}
        prompt_chars = sum(len(m.content) for m in request.messages)
        return JudgeReply(
            text=text,
            usage=Usage(prompt_tokens=prompt_chars // 4, completion_tokens=len(text) // 4),
            probabilities=probabilities,
        )
