"""RateLimiter pacing with an injected clock: the recorded sleeps are the contract."""

from __future__ import annotations

import asyncio

import pytest

from rubricate.backends._limits import RateLimiter, estimate_tokens
from rubricate.errors import ConfigError
from rubricate.types import Message


class FakeClock:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 9))
        self.now += seconds
        await asyncio.sleep(0)


def limiter(clock: FakeClock, **kwargs: float) -> RateLimiter:
    return RateLimiter(**kwargs, clock=clock, sleep=clock.sleep)


async def test_without_budgets_nothing_waits() -> None:
    clock = FakeClock()
    limits = limiter(clock)
    for _ in range(100):
        await limits.acquire(10_000)
    assert not limits.enabled and clock.sleeps == []


async def test_requests_per_minute_pace_one_per_interval() -> None:
    clock = FakeClock()
    limits = limiter(clock, rpm=60)  # one per second, a burst of one
    for _ in range(4):
        await limits.acquire()
    assert clock.sleeps == [1.0, 1.0, 1.0]


async def test_burst_allows_that_many_seconds_of_budget_at_once() -> None:
    clock = FakeClock()
    limits = limiter(clock, rpm=120, burst_s=2.0)  # 2/s, bucket of 4
    for _ in range(5):
        await limits.acquire()
    assert clock.sleeps == [0.5]


async def test_idle_time_refills_the_bucket_but_not_beyond_capacity() -> None:
    clock = FakeClock()
    limits = limiter(clock, rpm=60)
    await limits.acquire()
    clock.now += 3600
    await limits.acquire()
    await limits.acquire()
    assert clock.sleeps == [1.0]


async def test_tokens_per_minute_with_a_call_larger_than_the_bucket() -> None:
    clock = FakeClock()
    limits = limiter(clock, tpm=600)  # 10 tokens/s, bucket of 10
    await limits.acquire(5)  # fits: 5 left
    await limits.acquire(10)  # waits for 5 more
    await limits.acquire(30)  # waits for a full bucket, then owes 20
    await limits.acquire(1)  # waits until the debt is paid and 1 is there
    assert clock.sleeps == [0.5, 1.0, 2.1]


async def test_settle_refunds_an_overestimate() -> None:
    clock = FakeClock()
    limits = limiter(clock, tpm=600)
    await limits.acquire(10)
    limits.settle(estimated=10, actual=4)  # 6 tokens come back
    await limits.acquire(6)
    assert clock.sleeps == []
    await limits.acquire(1)
    assert clock.sleeps == [0.1]


async def test_both_budgets_wait_for_the_slower_one() -> None:
    clock = FakeClock()
    limits = limiter(clock, rpm=60, tpm=60)  # 1 request/s and 1 token/s
    await limits.acquire(1)
    await limits.acquire(3)  # tokens: a full bucket (1 s), then owes 2
    await limits.acquire(0)  # tokens still owed -> waits 2 s (more than the request's 1 s)
    assert clock.sleeps == [1.0, 2.0]


async def test_waiters_are_served_in_arrival_order() -> None:
    clock = FakeClock()
    limits = limiter(clock, rpm=60)
    order: list[int] = []

    async def take(i: int) -> None:
        await limits.acquire()
        order.append(i)

    await asyncio.gather(*(take(i) for i in range(5)))
    assert order == [0, 1, 2, 3, 4]
    assert clock.sleeps == [1.0] * 4


@pytest.mark.parametrize("kwargs", [{"rpm": 0}, {"tpm": -1}, {"rpm": 10, "burst_s": 0}])
def test_nonsense_budgets_are_config_errors(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        RateLimiter(**kwargs)


def test_token_estimate_is_chars_over_four_plus_completion_budget() -> None:
    messages = (Message("system", "x" * 400), Message("user", "y" * 41))
    assert estimate_tokens(messages, 256) == 441 // 4 + 256
