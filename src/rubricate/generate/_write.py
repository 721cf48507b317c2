"""Asking a generator model for criteria: cached text calls, strict parsing, bounded re-asks.

Every generation call is a text-mode ``JudgeRequest`` (no choices). Its reply is cached in
the store's text table under a key of everything that can change it, so re-running a job
costs no generation call and a killed run resumes for free.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from rubricate.backends import Judge
from rubricate.engine import CallEngine, Reask, TextCache
from rubricate.errors import BackendError, VerdictError
from rubricate.generate._dedup import Embedder, dedup_criteria
from rubricate.generate._types import GenerateOptions, GenerationStats
from rubricate.generate._validate import (
    Rejection,
    Rules,
    criterion_from_item,
    describe_rejections,
    parse_criteria_reply,
)
from rubricate.judge import JsonEnd
from rubricate.rubric import Criterion
from rubricate.store import Store
from rubricate.types import JudgeReply, JudgeRequest, Message

__all__ = ["ANSWER_PREFIX", "Writer", "Written", "generation_key"]

logger = logging.getLogger(__name__)

_REASK_FORMAT = (
    "Your reply could not be used: {error}. Reply again with only the JSON object "
    '{{"criteria": [...]}} described in the instructions.'
)
_REASK_TRUNCATED = (
    "\n\n(An earlier reply ran past the length limit before its JSON object closed. Write at most "
    "{cap} short criteria, each different from the others, and close the JSON object.)"
)
_REASK_REJECTED = (
    "These criteria were rejected:\n{items}\n\n"
    "What the reasons mean: vague = no specific, checkable content; compound = checks more than "
    "one thing; prompt_independent = could apply to any prompt; not_self_contained = refers to "
    "something the grader will not see; too_short / too_long = not one checkable sentence; "
    "bad_kind / bad_importance / bad_axis = a label outside the allowed values.\n"
    "Rewrite each rejected criterion so that it passes, or leave it out. Reply with only the JSON "
    'object {{"criteria": [...]}} holding the rewritten criteria.'
)


# Backends that generate locally start the reply with it (a head start on valid JSON); remote
# backends ignore it in text mode and the model writes the whole object.
ANSWER_PREFIX = '{"criteria": [{"criterion": "'


def generation_key(
    generator_fingerprint: str,
    messages: Sequence[Message],
    *,
    max_tokens: int,
    temperature: float,
    seed: int,
    answer_prefix: str = ANSWER_PREFIX,
) -> str:
    """Cache key of one generation call: model, full prompt and sampling settings."""
    payload = json.dumps(
        {
            "kind": "rubric-generation",
            "generator": generator_fingerprint,
            "messages": [[m.role, m.content] for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
            "seed": seed,
            "answer_prefix": answer_prefix,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class Written:
    """What one ask produced: accepted criteria (deduplicated, capped) and what was rejected."""

    criteria: list[Criterion] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    calls: int = 0
    error: str | None = None  # why the ask failed, when it did

    @property
    def ok(self) -> bool:
        return self.error is None


def _cut_off(text: str) -> bool:
    """Whether a reply stops inside its first JSON object (the token limit cut it)."""
    scanner = JsonEnd()
    return not scanner.feed(text.encode("utf-8")) and scanner.depth > 0


class Writer:
    """Writes criteria through one generator, sharing a cache, counters and a call limit.

    Generation calls go through one ``CallEngine`` (text cache, in-flight dedup, slots,
    bounded re-asks, tokens); ``stats`` mirrors its counters after every ask.
    """

    def __init__(
        self,
        generator: Judge,
        *,
        store: Store | None = None,
        options: GenerateOptions | None = None,
        embedder: Embedder | None = None,
        stats: GenerationStats | None = None,
    ) -> None:
        self.generator = generator
        self.store = store
        self.options = options or GenerateOptions()
        self.embedder = embedder
        self.stats = stats or GenerationStats()
        self.calls: CallEngine[str] = CallEngine(
            generator,
            cache=TextCache(store) if store is not None else None,
            concurrency=self.options.concurrency,
            reasks=self.options.reasks,
            group_commit=False,
        )

    async def complete_text(
        self, messages: Sequence[Message], *, answer_prefix: str = ANSWER_PREFIX
    ) -> str:
        """The generator's reply to ``messages`` (cached); raises ``BackendError`` when the call fails."""
        reply = await self._send(self._request(messages, answer_prefix))
        return reply.text

    def _request(self, messages: Sequence[Message], answer_prefix: str) -> JudgeRequest:
        return JudgeRequest(
            messages=tuple(messages),
            criterion_ids=(),
            max_tokens=self.options.max_tokens,
            temperature=self.options.temperature,
            seed=self.options.seed,
            answer_prefix=answer_prefix,
        )

    async def _send(self, request: JudgeRequest) -> JudgeReply:
        """A generation call through the cache (the cached reply carries no usage)."""
        options = self.options
        key = generation_key(
            self.generator.fingerprint,
            request.messages,
            max_tokens=options.max_tokens,
            temperature=options.temperature,
            seed=options.seed,
            answer_prefix=request.answer_prefix,
        )

        async def call() -> str:
            return (await self.calls.call(request)).text

        try:
            text = await self.calls.once(key, call)
        finally:
            self.stats.take_calls(self.calls.counts)
        return JudgeReply(text=text)

    async def write(
        self,
        messages: Sequence[Message],
        rules: Rules,
        *,
        max_criteria: int | None = None,
        min_criteria: int | None = None,
        answer_prefix: str = ANSWER_PREFIX,
    ) -> Written:
        """Ask for criteria, re-asking (bounded) for unparseable replies and rejected criteria.

        Fails (``Written.error``) when fewer than ``min_criteria`` valid criteria remain.
        ``answer_prefix`` is where a local generator's reply starts (see ``ANSWER_PREFIX``).
        """
        options = self.options
        cap = options.max_criteria if max_criteria is None else max_criteria
        floor = options.min_criteria if min_criteria is None else min_criteria
        context = rules.context_words()
        out = Written()
        history = list(messages)
        parsed_once = False
        last_error = ""

        def again(conversation: list[Message], *, unparseable: bool) -> Reask:
            nonlocal history
            history = conversation
            return Reask(self._request(conversation, answer_prefix), unparseable=unparseable)

        def read(reply: JudgeReply) -> Reask | None:
            nonlocal parsed_once, last_error
            out.calls += 1
            text = reply.text
            try:
                items = parse_criteria_reply(text)
            except VerdictError as error:
                last_error = str(error)
                if _cut_off(text):
                    # Shown its own looping reply, a greedy model repeats it: start over instead.
                    last = messages[-1]
                    note = _REASK_TRUNCATED.format(cap=cap)
                    restart = [*messages[:-1], Message(last.role, last.content + note)]
                    return again(restart, unparseable=True)
                feedback = _REASK_FORMAT.format(error=error)
                follow = [*history, Message("assistant", text), Message("user", feedback)]
                return again(follow, unparseable=True)
            parsed_once = True
            fresh: list[Criterion] = []
            round_rejections: list[Rejection] = []
            for item in items:
                made = criterion_from_item(item, rules, options.importance_points, context)
                if isinstance(made, Rejection):
                    round_rejections.append(made)
                else:
                    fresh.append(made)
            self._count_rejections(round_rejections)
            out.rejections.extend(round_rejections)
            unique, duplicates = dedup_criteria(
                fresh, embedder=self.embedder, threshold=options.dedup_threshold, keep=out.criteria
            )
            self.stats.duplicates_removed += len(duplicates)
            out.criteria.extend(unique)
            if not round_rejections or len(out.criteria) >= cap:
                return None
            feedback = _REASK_REJECTED.format(items=describe_rejections(round_rejections))
            follow = [*history, Message("assistant", text), Message("user", feedback)]
            return again(follow, unparseable=False)

        try:
            await self.calls.ask(self._request(history, answer_prefix), read, self._send)
        except BackendError as error:
            out.error = f"generator call failed: {error}"
            logger.warning("generation call failed: %s", error)
            return out
        finally:
            self.stats.take_calls(self.calls.counts)
        out.criteria = out.criteria[:cap]
        if not parsed_once:
            out.error = f"no parseable rubric after {options.reasks + 1} replies: {last_error}"
        elif len(out.criteria) < floor:
            reasons = sorted({r for rej in out.rejections for r in rej.reasons})
            out.error = f"{len(out.criteria)} valid criteria (need {floor}); rejected: {', '.join(reasons) or 'none'}"
        else:
            self.stats.criteria_accepted += len(out.criteria)
        return out

    def _count_rejections(self, rejections: Sequence[Rejection]) -> None:
        self.stats.criteria_rejected += len(rejections)
        for rejection in rejections:
            for reason in rejection.reasons:
                self.stats.rejections[reason] = self.stats.rejections.get(reason, 0) + 1
