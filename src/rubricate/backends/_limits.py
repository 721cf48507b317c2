"""Client-side limits: calls in flight (``Slots``) and request and token budgets (token buckets)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence

from rubricate.backends._retry import SleepFn
from rubricate.errors import ConfigError
from rubricate.types import Message

__all__ = ["RateLimiter", "Slots", "estimate_tokens"]

# Waits shorter than this are rounding left over from refilling in float arithmetic; sleeping
# them could spin forever on a clock whose resolution is coarser than the wait.
_NEGLIGIBLE_WAIT_S = 1e-6


class Slots:
    """Tokens for the calls allowed in flight; urgent waiters (retries) are served first.

    Loop-agnostic: a waiter's future is made on the running loop and gone once served, and
    ``asyncio.run`` cancels its waiters before the loop closes, so one instance serves
    successive loops.

    A retry has already waited its turn once. Sent to the back of a queue of thousands of
    first attempts, every fault would finish at the end of a large batch and stretch it.
    Free tokens are reused last-in first-out, so a light load keeps its warm connections.
    """

    def __init__(self, tokens: Iterable[int]) -> None:
        self._free = list(tokens)
        self._urgent: deque[asyncio.Future[int]] = deque()
        self._normal: deque[asyncio.Future[int]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._urgent) + len(self._normal)

    async def acquire(self, *, urgent: bool = False) -> int:
        if self._free and not self.waiting:
            return self._free.pop()
        queue = self._urgent if urgent else self._normal
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        queue.append(future)
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release(future.result())  # handed over just as we were cancelled
            elif future in queue:  # release() may already have dropped it
                queue.remove(future)
            raise

    def release(self, token: int) -> None:
        for queue in (self._urgent, self._normal):
            while queue:
                future = queue.popleft()
                if not future.done():  # a cancelled waiter may not have left yet
                    future.set_result(token)
                    return
        self._free.append(token)


def estimate_tokens(messages: Sequence[Message], max_tokens: int) -> int:
    """Upper-ish token estimate of a call: about 4 characters per prompt token, plus the completion budget."""
    return sum(len(m.content) for m in messages) // 4 + max_tokens


class _Bucket:
    """A token bucket that may go into debt, so one call larger than the bucket still passes."""

    __slots__ = ("capacity", "level", "rate", "updated")

    def __init__(self, per_minute: float, burst_s: float, now: float) -> None:
        self.rate = per_minute / 60.0  # units per second
        self.capacity = self.rate * burst_s
        self.level = self.capacity
        self.updated = now

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    def wait_for(self, amount: float) -> float:
        """Seconds until ``amount`` (capped at the capacity) is available; 0 when it is."""
        missing = min(amount, self.capacity) - self.level
        return max(0.0, missing / self.rate)


class RateLimiter:
    """Paces calls to ``rpm`` requests and ``tpm`` tokens per minute (either may be ``None``).

    Each budget is a token bucket refilled continuously at ``budget / 60`` per second and
    holding at most ``burst_s`` seconds' worth, so bursts stay short: providers enforce their
    per-minute limits over sub-minute windows. A call larger than the bucket waits for a full
    bucket and then drives it negative, which delays the following calls by the excess.

    Waiters are served in arrival order. ``clock`` and ``sleep`` are injectable for tests.
    """

    def __init__(
        self,
        rpm: float | None = None,
        tpm: float | None = None,
        *,
        burst_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: SleepFn = asyncio.sleep,
    ) -> None:
        for name, value in (("rpm", rpm), ("tpm", tpm)):
            if value is not None and value <= 0:
                raise ConfigError(f"{name} must be positive, got {value}")
        if burst_s <= 0:
            raise ConfigError(f"burst_s must be positive, got {burst_s}")
        self._clock = clock
        self._sleep = sleep
        now = clock()
        self._requests = _Bucket(rpm, burst_s, now) if rpm is not None else None
        self._tokens = _Bucket(tpm, burst_s, now) if tpm is not None else None
        # One caller waits on the budgets at a time; the rest queue behind it in arrival order.
        self._turn = Slots([0])

    @property
    def enabled(self) -> bool:
        return self._requests is not None or self._tokens is not None

    async def acquire(self, tokens: int = 0) -> None:
        """Wait until one request and ``tokens`` tokens fit the budgets, then spend them."""
        if not self.enabled:
            return
        turn = await self._turn.acquire()
        try:
            while True:
                now = self._clock()
                wait = 0.0
                if self._requests is not None:
                    self._requests.refill(now)
                    wait = max(wait, self._requests.wait_for(1.0))
                if self._tokens is not None:
                    self._tokens.refill(now)
                    wait = max(wait, self._tokens.wait_for(float(tokens)))
                if wait <= _NEGLIGIBLE_WAIT_S:
                    break
                await self._sleep(wait)
            if self._requests is not None:
                self._requests.level -= 1.0
            if self._tokens is not None:
                self._tokens.level -= float(tokens)
        finally:
            self._turn.release(turn)

    def settle(self, estimated: int, actual: int) -> None:
        """Correct the token budget once a reply reports its real usage."""
        if self._tokens is None:
            return
        self._tokens.refill(self._clock())
        self._tokens.level = min(self._tokens.capacity, self._tokens.level + estimated - actual)
