"""Reading a judge's replies to one call: verdicts found, re-asks for what is missing, and
the replies kept when a run keeps them."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import Any

from rubricate.engine._calls import Reask
from rubricate.errors import VerdictError
from rubricate.judge import parse_group_reply, parse_single_reply
from rubricate.rubric import Criterion
from rubricate.types import JudgeReply, JudgeRequest, Message, RawReply, Verdict

__all__ = ["REASK", "ReplyTable", "Shown", "UnitReader"]

REASK = (
    "Your reply did not contain a valid verdict for criterion id(s) {ids}. "
    "Reply again with only the JSON object described in the instructions."
)


class ReplyTable:
    """A sample's kept replies, each distinct one once (a grouped reply decides several
    criteria), referenced from its verdicts by position."""

    __slots__ = ("_positions", "records")

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self._positions: dict[RawReply, int] = {}

    def index(self, reply: RawReply | None) -> int | None:
        """The position of ``reply`` (added if new); ``None`` for a verdict no reply
        decided (a jury's, decided by its members' votes)."""
        if reply is None:
            return None
        position = self._positions.get(reply)
        if position is None:
            position = self._positions[reply] = len(self.records)
            self.records.append(
                {"text": reply.text, "reasks": reply.reasks, "missing": reply.missing}
            )
        return position


@dataclass(frozen=True, slots=True)
class Shown:
    """What the judge is shown of one sample: ``conversation`` (``render_conversation``) and
    ``response`` (``render_response``, without its introduction rubric-first); ``text`` is
    both, the graded text a reply must not echo and, response-first, the shared head of
    every request."""

    conversation: str
    response: str
    text: str


class UnitReader:
    """Reads the replies to one call's criteria (a ``Reader`` for ``CallEngine.ask``): the
    verdicts found so far, what is still missing, and the last reply's text."""

    __slots__ = (
        "evidence",
        "kept",
        "last_raw",
        "remaining",
        "replies_read",
        "request",
        "rubric_first",
        "shown",
        "verdicts",
    )

    def __init__(
        self,
        request: Callable[[Shown, list[Criterion]], JudgeRequest],
        shown: Shown,
        criteria: list[Criterion],
        *,
        evidence: bool,
        keep_replies: bool,
        rubric_first: bool,
    ) -> None:
        self.request = request  # builds the follow-up for the criteria still missing
        self.shown = shown
        self.remaining = criteria
        self.evidence = evidence
        self.rubric_first = rubric_first
        self.verdicts: dict[str, Verdict] = {}
        self.last_raw = ""
        # The reply that decided each criterion, when replies are kept (a grouped reply
        # decides several: they share one ``RawReply``).
        self.kept: dict[str, RawReply] | None = {} if keep_replies else None
        self.replies_read = 0

    def read(self, reply: JudgeReply) -> Reask | None:
        self.last_raw = text = reply.text
        kept = self.kept
        raw = RawReply(text, self.replies_read) if kept is not None else None
        self.replies_read += 1
        remaining, shared = self.remaining, self.shown.text
        evidence = self.evidence
        if len(remaining) == 1 and not self.rubric_first:
            criterion = remaining[0]
            try:
                self.verdicts[criterion.id] = parse_single_reply(
                    text, criterion, reply.probabilities, shown=shared, evidence=evidence
                )
                if kept is not None and raw is not None:
                    kept[criterion.id] = raw
                return None
            except VerdictError:
                pass
        else:
            found, _ = parse_group_reply(text, remaining, shown=shared, evidence=evidence)
            if not found and len(remaining) == 1:
                # Rubric-first asks one criterion in the grouped form; a judge answering the
                # single form names no id, but there is only one it can mean.
                with suppress(VerdictError):
                    found = {
                        remaining[0].id: parse_single_reply(
                            text, remaining[0], shown=shared, evidence=evidence
                        )
                    }
            self.verdicts.update(found)
            if kept is not None and raw is not None:
                kept.update(dict.fromkeys(found, raw))
            remaining = self.remaining = [c for c in remaining if c.id not in found]
            if not remaining:
                return None
        ids = ", ".join(c.id for c in remaining)
        history = (Message("assistant", text), Message("user", REASK.format(ids=ids)))
        follow_up = self.request(self.shown, remaining)
        return Reask(
            replace(follow_up, messages=follow_up.messages + history, answer_prefix=""),
            items=len(remaining),
        )
