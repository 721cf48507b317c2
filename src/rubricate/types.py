"""In-process values on the judge path: samples, requests, replies, verdicts."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from rubricate.rubric import Rubric

# ``blocked`` exists only for criteria on a ``blocking`` scale (DeepResearch Bench II).
VerdictLabel = Literal["met", "not_met", "partial", "blocked", "cannot_assess", "error"]
VERDICT_LABELS: tuple[str, ...] = (
    "met",
    "not_met",
    "partial",
    "blocked",
    "cannot_assess",
    "error",
)
GRADABLE_LABELS = frozenset({"met", "not_met", "partial", "blocked"})


@dataclass(frozen=True, slots=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True, slots=True)
class Sample:
    """A conversation, the response to grade (``None`` until sampled) and its rubric.

    ``metadata["judge_context"]`` (text), when present, is shown to the judge beside the
    conversation: a reference answer, or the sources a response must not use.
    """

    id: str
    messages: tuple[Message, ...]
    rubric: Rubric
    response: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def with_response(self, response: str) -> Sample:
        return Sample(self.id, self.messages, self.rubric, response, self.metadata)

    def conversation_hash(self) -> str:
        """Hash of the conversation and the response: what the judge reads besides the criterion."""
        digest = hashlib.sha256()
        for message in self.messages:
            # Length-prefixed so no choice of contents can collide with another split.
            for part in (message.role, message.content):
                encoded = part.encode("utf-8")
                digest.update(b"%d:" % len(encoded))
                digest.update(encoded)
        if self.response is None:
            digest.update(b"-")
        else:
            encoded = self.response.encode("utf-8")
            digest.update(b"R%d:" % len(encoded))
            digest.update(encoded)
        context = self.metadata.get("judge_context")
        if isinstance(context, str) and context.strip():
            # The judge reads it too (judge._prompt.render_shared), so it is part of the key.
            encoded = context.encode("utf-8")
            digest.update(b"C%d:" % len(encoded))
            digest.update(encoded)
        return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one call. ``cached_prompt_tokens`` is the part of the prompt the server reused.

    ``known`` is false when the server reported no usage: the counts are then 0 because
    nothing was reported, not because nothing was spent (a sum is known only if every part is).
    """

    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    completion_tokens: int = 0
    known: bool = True

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.cached_prompt_tokens + other.cached_prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.known and other.known,
        )


@dataclass(frozen=True, slots=True)
class JudgeRequest:
    """One call to a judge.

    Attributes:
        messages: chat messages, shared text first and the criterion (or group) last.
        criterion_ids: the criteria this call decides, in prompt order.
        max_tokens: completion budget.
        want_probabilities: ask the backend for P(answer) of ``choices``.
        choices: for probability backends, the answers to compare (e.g. ``("met", "not_met")``).
        answer_prefix: text the reply starts with before one of ``choices``; a backend that
            scores choices by next-token probability appends it to the prompt.
        shared_prefix_chars: length of the last message's text shared by every request of the
            same sample; a hint for backends that manage their own prefix cache.
        temperature: sampling temperature of this call; ``None`` = the judge's configured one.
        seed: sampling seed of this call; ``None`` = the judge's configured one.
        reply_schema: JSON schema (canonical JSON text) the reply must follow, or ``None``:
            sent as ``response_format`` to OpenAI-compatible servers and compiled to a GBNF
            grammar by the embedded llama.cpp judge. It changes the reply, so the grader puts
            its kind in the cache key.

    Every backend sends ``temperature`` and ``seed`` when set, so they change the reply and
    belong in a cache key beside the judge's fingerprint (see ``sampling``).
    """

    messages: tuple[Message, ...]
    criterion_ids: tuple[str, ...]
    max_tokens: int = 256
    want_probabilities: bool = False
    choices: tuple[str, ...] = ()
    answer_prefix: str = ""
    shared_prefix_chars: int = 0
    temperature: float | None = None
    seed: int | None = None
    reply_schema: str | None = None

    def sampling(self) -> dict[str, float | int]:
        """The sampling parameters this request sets (those left ``None`` are the judge's own,
        which its fingerprint already describes): what a cache key adds to the fingerprint."""
        chosen: dict[str, float | int] = {}
        if self.temperature is not None:
            chosen["temperature"] = self.temperature
        if self.seed is not None:
            chosen["seed"] = self.seed
        return chosen


@dataclass(frozen=True, slots=True)
class JudgeReply:
    """What a judge said. ``probabilities`` maps each of the request's choices to its probability."""

    text: str
    usage: Usage = Usage()
    latency_s: float = 0.0
    probabilities: dict[str, float] | None = None


# Why a kept reply has no text: the call failed (nothing came back), or the verdict came
# from a cache entry written without its reply (a run without replies, or an older store).
ReplyMissing = Literal["failed_call", "not_cached"]


@dataclass(frozen=True, slots=True)
class RawReply:
    """The judge's reply text that decided a verdict, kept when a run asks for replies.

    Attributes:
        text: the reply exactly as the judge sent it; ``None`` when it cannot be had.
        reasks: re-asks before this reply (0: the first reply was used).
        missing: why ``text`` is ``None``.
    """

    text: str | None
    reasks: int = 0
    missing: ReplyMissing | None = None


@dataclass(frozen=True, slots=True)
class Vote:
    """One jury member's verdict on one criterion, as the jury's verdict keeps it.

    Attributes:
        judge: the member's fingerprint (its cache key and its calibration key).
        verdict: its label (``met``, ``not_met``, ..., ``error``).
        probability: its P(met) in [0, 1], when known (calibrated, with a calibration).
        level: its ordinal level, for ordinal criteria.
        weight: its weight in the jury (> 0).
    """

    judge: str
    verdict: str
    probability: float | None = None
    level: int | None = None
    weight: float = 1.0
    reply: RawReply | None = None  # the member's raw reply, when replies are kept


@dataclass(frozen=True, slots=True)
class Quote:
    """A passage the judge quoted from the response, and whether it was found there."""

    text: str
    found: bool = False


@dataclass(frozen=True, slots=True)
class Verdict:
    """A decision on one criterion.

    ``probability`` is P(met) in [0, 1] when the backend reports it. ``level`` is the
    ordinal level index (0 = worst) for ordinal criteria. ``votes`` are a jury's members'
    verdicts (empty for a single judge); ``raw_probability`` is the judge's P(met) before a
    calibration replaced ``probability`` (and, with its threshold, the label). ``evidence`` is ``None`` when
    evidence was not asked for, else the judge's quotes (possibly none), each checked
    against the response (``rubricate.judge.check_evidence``).
    """

    criterion_id: str
    label: str
    probability: float | None = None
    level: int | None = None
    explanation: str | None = None
    votes: tuple[Vote, ...] = ()
    raw_probability: float | None = None
    evidence: tuple[Quote, ...] | None = None
    reply: RawReply | None = None  # the judge's reply that decided it, when replies are kept

    @property
    def gradable(self) -> bool:
        return self.label in GRADABLE_LABELS
