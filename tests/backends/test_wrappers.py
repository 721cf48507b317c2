"""Resilience wrappers composed around a scripted judge: retries, slots, budgets, hedging, closing."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import pytest

from rubricate.backends import (
    CallSlots,
    Hedging,
    JudgeBase,
    RateLimited,
    Resilient,
    Retrying,
    ScriptedJudge,
    close_judge,
    layers,
    resilient,
)
from rubricate.errors import BackendError, ConfigError
from rubricate.types import JudgeReply, JudgeRequest, Message, Usage


def request(name: str = "r", **kwargs: object) -> JudgeRequest:
    return JudgeRequest((Message("user", name),), (name,), **kwargs)  # type: ignore[arg-type]


class Recorder:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)


class FakeClock:
    """Moves only when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds
        await asyncio.sleep(0)


class Handler(JudgeBase):
    """A judge answering from ``handle(call number, request)``, which may raise or await."""

    fingerprint = "handler:1"

    def __init__(self, handle: Callable[[int, JudgeRequest], object]) -> None:
        self.handle = handle
        self.started: list[str] = []
        self.cancelled = 0
        self.closed = False

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        number = len(self.started)
        self.started.append(request.messages[0].content)
        try:
            outcome = self.handle(number, request)
            if asyncio.iscoroutine(outcome):
                outcome = await outcome
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if isinstance(outcome, Exception):
            raise outcome
        assert isinstance(outcome, JudgeReply)
        return outcome

    async def aclose(self) -> None:
        self.closed = True


FLAKY = BackendError("503", retryable=True, status=503)


# --- composition ----------------------------------------------------------------------


def test_the_composer_stacks_the_layers_in_order_and_keeps_the_fingerprint() -> None:
    inner = ScriptedJudge(fingerprint="scripted:x")
    judge = resilient(inner, max_retries=2, concurrency=3, rpm=60, hedge_after=1.0)
    kinds = [type(layer) for layer in layers(judge)]
    assert kinds == [Resilient, Retrying, Hedging, RateLimited, CallSlots, ScriptedJudge]
    assert judge.provider is inner and judge.fingerprint == "scripted:x"
    assert all(layer.fingerprint == "scripted:x" for layer in layers(judge.outer))
    assert judge.hedge_after == 1.0
    bare = resilient(inner, max_retries=0)
    assert bare.outer is inner and bare.hedged_calls == 0 and bare.hedge_after is None


@pytest.mark.parametrize(
    "kwargs",
    [{"max_retries": -1}, {"concurrency": 0}, {"hedge_after": 0}, {"rpm": 0}, {"tpm": -5}],
)
def test_bad_settings_are_config_errors(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        resilient(ScriptedJudge(), **kwargs)  # type: ignore[arg-type]


async def test_closing_reaches_the_provider_and_any_judge_can_be_closed() -> None:
    handler = Handler(lambda _n, _r: JudgeReply("x"))
    async with resilient(handler, concurrency=2, rpm=600) as judge:
        assert (await judge.complete(request())).text == "x"
    assert handler.closed

    class TwoMembers:  # the protocol, nothing more
        fingerprint = "bare"

        async def complete(self, request: JudgeRequest) -> JudgeReply:
            return JudgeReply("bare")

    await close_judge(TwoMembers())  # nothing to close: no error
    wrapped = resilient(TwoMembers(), max_retries=1, concurrency=1)
    assert (await wrapped.complete(request())).text == "bare"
    await wrapped.aclose()


# --- retries ----------------------------------------------------------------------------


async def test_retries_back_off_honour_retry_after_and_stop_on_fatal_errors() -> None:
    errors: list[Exception] = [BackendError("429", retryable=True, retry_after=4.0), FLAKY]
    handler = Handler(lambda _n, _r: errors.pop(0) if errors else JudgeReply("ok"))
    sleep = Recorder()
    judge = resilient(handler, max_retries=3, backoff_base=0.5, sleep=sleep, rng=random.Random(1))
    assert (await judge.complete(request())).text == "ok"
    assert len(handler.started) == 3
    assert sleep.sleeps[0] == 4.0 and 0 <= sleep.sleeps[1] <= 1.0

    fatal = Handler(lambda _n, _r: BackendError("401", status=401))
    with pytest.raises(BackendError, match="401"):
        await resilient(fatal, max_retries=5, sleep=sleep).complete(request())
    assert len(fatal.started) == 1


async def test_a_retry_jumps_the_queue_for_a_call_slot() -> None:
    release = asyncio.Event()

    async def handle(number: int, req: JudgeRequest) -> object:
        if number == 0:
            await release.wait()
            return FLAKY  # the first call fails once it gets going
        return JudgeReply(req.messages[0].content)

    handler = Handler(handle)
    judge = resilient(handler, max_retries=1, concurrency=1, sleep=Recorder())
    first = asyncio.ensure_future(judge.complete(request("first")))
    await asyncio.sleep(0)
    queued = [asyncio.ensure_future(judge.complete(request(f"q{i}"))) for i in range(3)]
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, *queued)
    # The slot "first" gave up went to q0, already waiting; the retry of "first" then went
    # ahead of q1 and q2, which had waited longer.
    assert handler.started == ["first", "q0", "first", "q1", "q2"]


# --- budgets ----------------------------------------------------------------------------


async def test_rpm_paces_calls_and_tpm_is_settled_by_reported_usage() -> None:
    clock = FakeClock()
    handler = Handler(lambda _n, _r: JudgeReply("ok", Usage(prompt_tokens=1, completion_tokens=1)))
    judge = resilient(handler, max_retries=0, rpm=60, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        await judge.complete(request())
    assert clock.sleeps == [1.0, 1.0]  # one call per second after the first

    clock = FakeClock()
    budget = resilient(handler, max_retries=0, tpm=6000, clock=clock, sleep=clock.sleep)
    # Each call is estimated at 100 tokens (its max_tokens) and reports 2: the difference
    # flows back, so each later call waits only for the 2 tokens really spent (0.02 s).
    for _ in range(5):
        await budget.complete(request(max_tokens=100))
    assert clock.sleeps == [0.02] * 4


# --- hedging ----------------------------------------------------------------------------


async def test_a_stalled_call_is_backed_up_and_the_loser_is_cancelled_and_frees_its_slot() -> None:
    stall = asyncio.Event()

    async def handle(number: int, _req: JudgeRequest) -> object:
        if number == 0:
            await stall.wait()  # never set: only cancellation ends it
        return JudgeReply(f"copy {number}")

    handler = Handler(handle)
    judge = resilient(handler, max_retries=0, concurrency=2, hedge_after=0.05)
    reply = await judge.complete(request())
    assert reply.text == "copy 1" and judge.hedged_calls == 1
    await asyncio.sleep(0)
    assert handler.cancelled == 1
    slots = next(layer for layer in layers(judge.outer) if isinstance(layer, CallSlots))
    # Both slots are free again: two calls run at once without queueing.
    both = await asyncio.gather(judge.complete(request()), judge.complete(request()))
    assert [r.text for r in both] == ["copy 2", "copy 3"] and slots.waiting == 0


async def test_at_most_two_backups_per_call() -> None:
    async def handle(number: int, _req: JudgeRequest) -> object:
        await asyncio.sleep(0.4 - 0.1 * number)  # every copy is slow; later ones a bit less
        return JudgeReply(f"copy {number}")

    handler = Handler(handle)
    judge = resilient(handler, max_retries=0, concurrency=8, hedge_after=0.05)
    reply = await judge.complete(request())
    assert judge.hedged_calls == 2 and len(handler.started) == 3
    assert reply.text == "copy 2"  # the fastest of the three copies


async def test_the_hedging_clock_starts_when_the_slot_is_granted() -> None:
    async def handle(_number: int, req: JudgeRequest) -> object:
        await asyncio.sleep(0.02)
        return JudgeReply(req.messages[0].content)

    handler = Handler(handle)
    judge = resilient(handler, max_retries=0, concurrency=1, hedge_after=0.1)
    # Twelve calls through one slot wait far longer than hedge_after, each quick once sent.
    await asyncio.gather(*(judge.complete(request(str(i))) for i in range(12)))
    assert judge.hedged_calls == 0 and len(handler.started) == 12


async def test_a_backup_that_fails_fast_is_retried_while_the_first_stalls() -> None:
    stall = asyncio.Event()

    async def handle(number: int, _req: JudgeRequest) -> object:
        if number == 0:
            await stall.wait()
        if number == 1:
            return FLAKY
        return JudgeReply(f"copy {number}")

    sleep = Recorder()
    judge = resilient(Handler(handle), max_retries=2, concurrency=4, hedge_after=0.05, sleep=sleep)
    assert (await judge.complete(request())).text == "copy 2"
    assert judge.hedged_calls == 1 and len(sleep.sleeps) == 1


def test_one_composed_judge_serves_successive_event_loops() -> None:
    # What synchronous entry points do: asyncio.run per batch with the same judge. Slots and
    # budgets keep no loop objects between calls, so nothing has to be rebuilt per loop.
    clock = FakeClock()

    async def handle(_number: int, req: JudgeRequest) -> object:
        await asyncio.sleep(0)
        return JudgeReply(req.messages[0].content)

    judge = resilient(
        Handler(handle), concurrency=2, rpm=60, hedge_after=5.0, clock=clock, sleep=clock.sleep
    )

    async def batch(names: str) -> list[str]:
        replies = await asyncio.gather(*(judge.complete(request(n)) for n in names))
        return [reply.text for reply in replies]

    assert asyncio.run(batch("abcd")) == list("abcd")
    assert asyncio.run(batch("efgh")) == list("efgh")
    assert clock.sleeps == [1.0] * 7  # one a second, the budget carried from loop to loop
