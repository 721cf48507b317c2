"""Scripted judges for generation tests: one function writes criteria, another decides verdicts."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from rubricate.backends.scripted import ScriptedJudge, criteria_in
from rubricate.types import JudgeRequest

_RESPONSE = re.compile(r"<(response-[0-9a-f]{16})>\n(.*?)\n</\1>", re.DOTALL)

Write = Callable[[JudgeRequest], str]
Decide = Callable[[str, str], str]  # (criterion text, graded response) -> label


def criteria_json(*items: tuple[str, str, str] | tuple[str, str, str, str]) -> str:
    """A generation reply: items are (criterion, kind, importance[, axis])."""
    out: list[dict[str, Any]] = []
    for entry in items:
        record = {"criterion": entry[0], "kind": entry[1], "importance": entry[2]}
        if len(entry) > 3:
            record["axis"] = entry[3]  # type: ignore[misc]
        out.append(record)
    return json.dumps({"criteria": out})


def keyword_decide(text: str, response: str) -> str:
    """Met when the criterion's last word occurs in the response."""
    word = text.rstrip(".").split()[-1].lower()
    return "met" if word in response.lower() else "not_met"


def scripted(write: Write | Sequence[str], decide: Decide = keyword_decide) -> ScriptedJudge:
    """A judge that writes criteria (a function, or replies served in turn) and grades by ``decide``."""
    queue = list(write) if not callable(write) else None

    def reply(request: JudgeRequest) -> str:
        if request.criterion_ids:
            (_, text), *_ = criteria_in(request)
            match = _RESPONSE.search(request.messages[-1].content)
            response = match.group(2) if match else ""
            return json.dumps({"verdict": decide(text, response)})
        if queue is not None:
            return queue.pop(0) if len(queue) > 1 else queue[0]
        return write(request)  # type: ignore[operator]

    return ScriptedJudge(reply=reply)


def generation_prompts(judge: ScriptedJudge, seen: list[JudgeRequest]) -> ScriptedJudge:
    """Record every text-mode request ``judge`` answers into ``seen``."""
    inner = judge.reply

    def reply(request: JudgeRequest) -> str:
        if not request.criterion_ids:
            seen.append(request)
        return inner(request)  # type: ignore[misc]

    judge.reply = reply
    return judge
