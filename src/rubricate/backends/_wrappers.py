"""Resilience that wraps any judge: retries, call slots, rate budgets and hedged calls.

Each wrapper is a ``Judge`` around a ``Judge`` and knows nothing of the wire format: it
reads ``BackendError.retryable`` and ``retry_after`` and the reply's ``usage``, nothing else.
``resilient`` (in ``_compose``) stacks them in the order that makes them agree:

    Retrying -> Hedging -> RateLimited -> CallSlots -> provider

Two facts travel with a call rather than with its request, because the layers in between
pass requests on untouched (and a request is data that enters cache keys): a retry or a
backup copy is *urgent* (it takes the next free call slot ahead of first attempts), and a
hedged copy wants to know when it got its slot (its stall clock starts on the wire, not in
the queue). Both ride in two private context variables set by the wrapper that knows them
and read only by ``CallSlots``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from rubricate.backends._limits import RateLimiter, Slots, estimate_tokens
from rubricate.backends._protocol import Judge, JudgeBase, close_judge
from rubricate.backends._retry import SleepFn, with_retries
from rubricate.errors import BackendError, ConfigError
from rubricate.types import JudgeReply, JudgeRequest

__all__ = [
    "MAX_BACKUPS",
    "CallSlots",
    "Hedging",
    "RateLimited",
    "RetryPolicy",
    "Retrying",
    "layers",
]

T = TypeVar("T")

# Copies of one stalled call: enough that a stalled backup is backed up in turn, few enough
# that a server where everything stalls sees at most three copies of each call.
MAX_BACKUPS = 2

_URGENT: ContextVar[bool] = ContextVar("rubricate_urgent_call", default=False)
_ON_WIRE: ContextVar[asyncio.Event | None] = ContextVar("rubricate_call_on_wire", default=None)


def _start(
    call: Awaitable[T], *, urgent: bool | None = None, on_wire: asyncio.Event | None = None
) -> asyncio.Future[T]:
    """``call`` as a task whose context carries ``urgent`` (when given) and ``on_wire``."""
    urgent_token = _URGENT.set(urgent) if urgent is not None else None
    wire_token = _ON_WIRE.set(on_wire)
    try:
        return asyncio.ensure_future(call)  # the task copies the context as it is now
    finally:
        _ON_WIRE.reset(wire_token)
        if urgent_token is not None:
            _URGENT.reset(urgent_token)


class _Wrapper(JudgeBase):
    """A judge around ``inner``: same fingerprint (wrappers never change answers), closes it."""

    def __init__(self, inner: Judge) -> None:
        self.inner = inner
        self.fingerprint = inner.fingerprint

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"

    async def aclose(self) -> None:
        await close_judge(self.inner)


def layers(judge: Judge) -> Iterator[Judge]:
    """``judge`` and every judge it wraps, outermost first."""
    current: Judge | None = judge
    while current is not None:
        yield current
        current = current.inner if isinstance(current, _Wrapper) else None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries with exponential backoff, full jitter and ``Retry-After`` (see ``with_retries``).

    Attributes:
        max_retries: retries after the first attempt (0 = a single attempt).
        base_delay, max_delay: backoff ceiling ``min(max_delay, base_delay * 2**attempt)`` in seconds.
        max_retry_after: cap on a server-requested wait, in seconds.
        rng, sleep: injection points for tests.
    """

    max_retries: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0
    rng: random.Random | None = None
    sleep: SleepFn = asyncio.sleep

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ConfigError("backoff delays must be >= 0")

    def run(self, call: Callable[[], Awaitable[T]], *, describe: str = "call") -> Awaitable[T]:
        return with_retries(
            call,
            max_retries=self.max_retries,
            base_delay=self.base_delay,
            max_delay=self.max_delay,
            max_retry_after=self.max_retry_after,
            rng=self.rng,
            sleep=self.sleep,
            describe=describe,
        )


class Retrying(_Wrapper):
    """Retries retryable ``BackendError``s of ``inner`` under ``policy``; retries are urgent."""

    def __init__(self, inner: Judge, policy: RetryPolicy) -> None:
        super().__init__(inner)
        self.policy = policy

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        inner = self.inner
        first = True

        async def attempt() -> JudgeReply:
            nonlocal first
            if first:
                first = False
                return await inner.complete(request)
            token = _URGENT.set(True)
            try:
                return await inner.complete(request)
            finally:
                _URGENT.reset(token)

        return await self.policy.run(attempt, describe=f"call to {inner!r}")


class CallSlots(_Wrapper):
    """At most ``concurrency`` calls of ``inner`` in flight; retries and backups go first.

    A retry has already waited its turn once. Sent to the back of a queue of thousands of
    first attempts, every fault would finish at the end of a large batch and stretch it.
    """

    def __init__(self, inner: Judge, concurrency: int) -> None:
        if concurrency < 1:
            raise ConfigError(f"concurrency must be >= 1, got {concurrency}")
        super().__init__(inner)
        self.concurrency = concurrency
        self._slots = Slots([0] * concurrency)

    @property
    def waiting(self) -> int:
        """Calls queued for a slot now."""
        return self._slots.waiting

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        slots = self._slots
        slot = await slots.acquire(urgent=_URGENT.get())
        try:
            on_wire = _ON_WIRE.get()
            if on_wire is not None:
                on_wire.set()
            return await self.inner.complete(request)
        finally:
            slots.release(slot)


class RateLimited(_Wrapper):
    """Paces calls of ``inner`` to a request and token budget (see ``RateLimiter``).

    Tokens are estimated before the call and corrected by the reply's reported usage.
    """

    def __init__(self, inner: Judge, limiter: RateLimiter) -> None:
        super().__init__(inner)
        self.limiter = limiter

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        estimate = estimate_tokens(request.messages, request.max_tokens)
        await self.limiter.acquire(estimate)
        reply = await self.inner.complete(request)
        used = reply.usage.prompt_tokens + reply.usage.completion_tokens
        if used > 0:
            self.limiter.settle(estimate, used)
        return reply


class Hedging(_Wrapper):
    """Backs up a call that has been stalled ``after`` seconds; the first good answer wins.

    The stall clock starts when the call gets its slot from a ``CallSlots`` below (or at
    once when there is none), so queueing is never mistaken for a stall. The backup copy
    is urgent, retried on its own under ``backup_retries`` (a backup that fails fast is
    retried at once rather than left waiting on the stalled call's timeout) and itself
    backed up, ``max_backups`` copies deep. When one copy answers, the others are
    cancelled, which frees their slots. Each backup is counted in ``hedged_calls``.
    """

    def __init__(
        self,
        inner: Judge,
        after: float,
        *,
        backup_retries: RetryPolicy | None = None,
        max_backups: int = MAX_BACKUPS,
    ) -> None:
        if after <= 0:
            raise ConfigError(f"hedge_after must be positive, got {after}")
        if max_backups < 1:
            raise ConfigError(f"max_backups must be >= 1, got {max_backups}")
        super().__init__(inner)
        self.after = after
        self.backup_retries = backup_retries or RetryPolicy(max_retries=0)
        self.max_backups = max_backups
        self.hedged_calls = 0
        self._clock_on_slot = any(isinstance(layer, CallSlots) for layer in layers(inner))

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        return await self._hedged(request, self.max_backups)

    async def _hedged(self, request: JudgeRequest, backups: int) -> JudgeReply:
        on_wire = asyncio.Event() if self._clock_on_slot else None
        first = _start(self.inner.complete(request), on_wire=on_wire)
        tasks: list[asyncio.Future[Any]] = [first]
        try:
            if on_wire is not None:
                wire = asyncio.ensure_future(on_wire.wait())
                tasks.append(wire)
                await asyncio.wait((first, wire), return_when=asyncio.FIRST_COMPLETED)
            done, _ = await asyncio.wait((first,), timeout=self.after)
            if done:
                return first.result()  # answered or failed in time: no backup
            self.hedged_calls += 1

            def copy() -> Awaitable[JudgeReply]:
                if backups > 1:
                    return self._hedged(request, backups - 1)
                return self.inner.complete(request)

            backup = _start(
                self.backup_retries.run(copy, describe=f"backup call to {self.inner!r}"),
                urgent=True,
            )
            tasks.append(backup)
            pending: set[asyncio.Future[JudgeReply]] = {first, backup}
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if task.exception() is None:
                        return task.result()
            error = backup.exception()
            if isinstance(error, BackendError):
                # The backup spent a whole retry budget: do not start another round.
                raise BackendError(
                    f"{error} (hedged call)", retryable=False, status=error.status
                ) from error
            raise error or BackendError("hedged call ended without an answer", retryable=False)
        finally:
            for task in tasks:
                task.cancel()
