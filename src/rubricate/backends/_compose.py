"""One composer that stacks the resilience wrappers around any judge, and the local judge's builder."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from rubricate.backends._breaker import CircuitBreaker
from rubricate.backends._limits import RateLimiter
from rubricate.backends._protocol import Judge
from rubricate.backends._retry import SleepFn
from rubricate.backends._wrappers import (
    CallSlots,
    Hedging,
    RateLimited,
    Retrying,
    RetryPolicy,
    _Wrapper,
    layers,
)
from rubricate.types import JudgeReply, JudgeRequest

if TYPE_CHECKING:
    from rubricate.backends.llamacpp import LlamaCppJudge

__all__ = ["Resilient", "create_local_judge", "resilient"]


class Resilient(_Wrapper):
    """A provider judge inside the wrappers ``resilient`` stacked around it.

    Attributes:
        provider: the wrapped judge (e.g. ``OpenAIJudge``), for its own attributes.
        outer: the outermost wrapper (``inner`` too); ``complete`` goes through it, and
            ``aclose`` closes down the stack to the provider.
    """

    def __init__(self, provider: Judge, outer: Judge) -> None:
        super().__init__(outer)
        self.provider = provider
        self.outer = outer
        self._hedging = next((j for j in layers(outer) if isinstance(j, Hedging)), None)

    def __repr__(self) -> str:
        return f"Resilient({self.provider!r})"

    @property
    def hedge_after(self) -> float | None:
        """Seconds a call may stall before it is backed up (``None``: no hedging)."""
        return None if self._hedging is None else self._hedging.after

    @property
    def hedged_calls(self) -> int:
        """Backup copies sent for stalled calls so far (0 without ``hedge_after``)."""
        return 0 if self._hedging is None else self._hedging.hedged_calls

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        return await self.outer.complete(request)


def resilient(
    judge: Judge,
    *,
    max_retries: int = 5,
    concurrency: int | None = None,
    rpm: float | None = None,
    tpm: float | None = None,
    hedge_after: float | None = None,
    breaker_failures: int | None = None,
    breaker_cooldown: float = 10.0,
    backoff_base: float = 0.5,
    backoff_max: float = 30.0,
    max_retry_after: float = 120.0,
    sleep: SleepFn = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
) -> Resilient:
    """``judge`` wrapped in retries, a budget, call slots and hedging, in the order that works.

    Outermost first: ``Retrying`` (so a retry passes every limit again, urgently) ->
    ``Hedging`` (a backup copy is a real call: it spends budget and takes a slot) ->
    ``RateLimited`` (paced before the slot, so a call waiting for budget holds no slot) ->
    ``CallSlots`` (the hedging clock starts when the slot is granted) ->
    ``CircuitBreaker`` (asked as a call reaches the wire, so calls queued for a slot when
    the judge goes down fail fast too; its ``JudgeDown`` ends the retries) -> ``judge``.
    A layer whose setting is off (``None``, or ``max_retries=0``) is left out.

    Args:
        judge: any judge; its ``BackendError.retryable`` and ``retry_after`` drive the retries.
        max_retries: retries after the first attempt for retryable failures.
        concurrency: calls in flight at once (``None``: no limit).
        rpm, tpm: request and token budgets per minute (see ``RateLimiter``).
        hedge_after: seconds a call may stall on the wire before a backup copy is sent
            (at most two backups; each is retried on its own with this retry policy).
        breaker_failures: outage failures in a row (refused connections, 5xx, timeouts)
            after which calls fail fast with ``JudgeDown`` (``None``: no breaker).
        breaker_cooldown: seconds the breaker stays open before one probe call goes out.
        backoff_base, backoff_max, max_retry_after: backoff in seconds (see ``backoff_delay``).
        sleep, clock, rng: injection points for tests.
    """
    policy = RetryPolicy(
        max_retries=max_retries,
        base_delay=backoff_base,
        max_delay=backoff_max,
        max_retry_after=max_retry_after,
        rng=rng,
        sleep=sleep,
    )
    outer = judge
    if breaker_failures is not None:
        outer = CircuitBreaker(
            outer,
            failures=breaker_failures,
            cooldown=breaker_cooldown,
            max_cooldown=max(60.0, breaker_cooldown),
            clock=clock,
        )
    if concurrency is not None:
        outer = CallSlots(outer, concurrency)
    if rpm is not None or tpm is not None:
        outer = RateLimited(outer, RateLimiter(rpm, tpm, clock=clock, sleep=sleep))
    if hedge_after is not None:
        outer = Hedging(outer, hedge_after, backup_retries=policy)
    if max_retries > 0:
        outer = Retrying(outer, policy)
    return Resilient(judge, outer)


def create_local_judge(
    path: str | os.PathLike[str],
    *,
    n_threads: int | None = None,
    n_ctx: int = 8192,
    explain: bool = False,
    on_overflow: Literal["error", "truncate"] = "error",
    temperature: float = 0.0,
    seed: int = 0,
    max_retries: int = 2,
    concurrency: int | None = None,
    rpm: float | None = None,
    tpm: float | None = None,
    backoff_base: float = 0.5,
    backoff_max: float = 30.0,
    sleep: SleepFn = asyncio.sleep,
    rng: random.Random | None = None,
) -> Resilient:
    """The embedded llama.cpp judge (extra ``local``) inside the same wrappers as an HTTP judge.

    ``path``, ``n_threads``, ``n_ctx``, ``explain``, ``on_overflow``, ``temperature`` and
    ``seed`` go to ``LlamaCppJudge``; the rest to ``resilient``. No call slots by default:
    the model serves one call at a time and picks the next by shared prompt prefix, which a
    slot queue in front of it would defeat. No hedging: a backup copy would only queue
    behind the call it backs up.
    """
    from rubricate.backends.llamacpp import LlamaCppJudge

    model: LlamaCppJudge = LlamaCppJudge(
        path,
        n_threads=n_threads,
        n_ctx=n_ctx,
        explain=explain,
        on_overflow=on_overflow,
        temperature=temperature,
        seed=seed,
    )
    return resilient(
        model,
        max_retries=max_retries,
        concurrency=concurrency,
        rpm=rpm,
        tpm=tpm,
        backoff_base=backoff_base,
        backoff_max=backoff_max,
        sleep=sleep,
        rng=rng,
    )
