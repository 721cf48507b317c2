"""JudgePool: least-outstanding routing, ejection and recovery, one fingerprint per pool."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest

from rubricate.backends import Resilient, Retrying, layers
from rubricate.backends.openai import OpenAIJudge
from rubricate.backends.pool import POOL_MEMBER_RETRIES, JudgePool, create_openai_judge
from rubricate.errors import BackendError, ConfigError
from rubricate.types import JudgeReply, JudgeRequest, Message
from tests.support.judge_server import JudgeServer, default_decide

REQUEST = JudgeRequest(messages=(Message("user", "hi"),), criterion_ids=("c",))


class FakeJudge:
    """Answers with its own name; ``fail`` decides per call whether to raise instead."""

    def __init__(self, name: str, *, fingerprint: str = "fake:1") -> None:
        self.name = name
        self.fingerprint = fingerprint
        self.calls = 0
        self.fail: Callable[[int], BackendError | None] = lambda _: None
        self.gate: asyncio.Event | None = None
        self.closed = False

    def __repr__(self) -> str:
        return f"FakeJudge({self.name})"

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        self.calls += 1
        error = self.fail(self.calls)
        if self.gate is not None:
            await self.gate.wait()
        if error is not None:
            raise error
        return JudgeReply(text=self.name)

    async def aclose(self) -> None:
        self.closed = True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def always(error: BackendError) -> Callable[[int], BackendError | None]:
    return lambda _: error


DOWN = BackendError("503 from member", retryable=True, status=503)


def make_pool(*judges: FakeJudge, clock: Clock | None = None, **kwargs) -> JudgePool:
    clock = clock or Clock()
    return JudgePool(list(judges), clock=clock, sleep=clock.sleep, **kwargs)


async def test_routes_to_fewest_outstanding_with_round_robin_ties() -> None:
    a, b, c = FakeJudge("a"), FakeJudge("b"), FakeJudge("c")
    a.gate = asyncio.Event()
    pool = make_pool(a, b, c)
    held = asyncio.create_task(pool.complete(REQUEST))
    await asyncio.sleep(0)  # a now has one call in flight
    answered = [(await pool.complete(REQUEST)).text for _ in range(4)]
    assert answered == ["b", "c", "b", "c"]
    assert pool.snapshot()[0].outstanding == 1
    a.gate.set()
    assert (await held).text == "a"
    assert [(await pool.complete(REQUEST)).text for _ in range(3)] == ["a", "b", "c"]


async def test_concurrent_calls_spread_evenly() -> None:
    judges = [FakeJudge(name) for name in "abcd"]
    gate = asyncio.Event()
    for judge in judges:
        judge.gate = gate
    pool = make_pool(*judges)
    tasks = [asyncio.create_task(pool.complete(REQUEST)) for _ in range(12)]
    await asyncio.sleep(0)
    assert [state.outstanding for state in pool.snapshot()] == [3, 3, 3, 3]
    gate.set()
    await asyncio.gather(*tasks)


async def test_failing_member_is_ejected_then_readmitted() -> None:
    clock = Clock()
    bad, good = FakeJudge("bad"), FakeJudge("good")
    bad.fail = always(DOWN)
    pool = make_pool(bad, good, clock=clock, eject_after=2, eject_seconds=30.0)
    # Every call still succeeds: the failure moves it to the good member.
    assert [(await pool.complete(REQUEST)).text for _ in range(6)] == ["good"] * 6
    assert bad.calls == 2  # ejected after its second failure in a row
    assert pool.snapshot()[0].ejected_for_s == 30.0
    clock.now += 29.0
    await pool.complete(REQUEST)
    assert bad.calls == 2
    clock.now += 1.0
    bad.fail = lambda _: None  # it recovered meanwhile
    answered = {(await pool.complete(REQUEST)).text for _ in range(4)}
    assert answered == {"bad", "good"}
    assert pool.snapshot()[0].consecutive_failures == 0
    assert clock.sleeps == []  # failing over to an untried member never waits


async def test_a_readmitted_member_that_fails_again_is_ejected_at_once() -> None:
    clock = Clock()
    bad, good = FakeJudge("bad"), FakeJudge("good")
    bad.fail = always(DOWN)
    pool = make_pool(bad, good, clock=clock, eject_after=2, eject_seconds=10.0)
    for _ in range(4):
        await pool.complete(REQUEST)
    clock.now += 10.0
    for _ in range(4):
        await pool.complete(REQUEST)
    assert bad.calls == 3
    assert pool.snapshot()[0].ejected_for_s == 10.0


async def test_success_resets_the_failure_count() -> None:
    flaky, good = FakeJudge("flaky"), FakeJudge("good")
    flaky.fail = lambda n: DOWN if n % 2 else None  # fails every other call it gets
    pool = make_pool(flaky, good, eject_after=2)
    for _ in range(20):
        await pool.complete(REQUEST)
    assert all(state.ejected_for_s == 0 for state in pool.snapshot())


async def test_all_ejected_uses_the_one_back_soonest() -> None:
    clock = Clock()
    a, b = FakeJudge("a"), FakeJudge("b")
    a.fail = b.fail = always(DOWN)
    a.gate = asyncio.Event()
    pool = make_pool(a, b, clock=clock, eject_after=1, eject_seconds=30.0, max_attempts=1)
    first = asyncio.create_task(pool.complete(REQUEST))  # held by a
    await asyncio.sleep(0)
    with pytest.raises(BackendError):
        await pool.complete(REQUEST)  # b fails at t=0: back at t=30
    clock.now = 5.0
    a.gate.set()
    with pytest.raises(BackendError):
        await first  # a fails at t=5: back at t=35
    a.fail = b.fail = lambda _: None
    # Round robin would pick a next; b's ejection ends first, so b it is.
    assert (await pool.complete(REQUEST)).text == "b"
    assert pool.snapshot()[1].ejected_for_s == 0.0
    assert pool.snapshot()[0].ejected_for_s == 30.0


async def test_gives_up_after_max_attempts_with_backoff_when_revisiting() -> None:
    clock = Clock()
    a, b = FakeJudge("a"), FakeJudge("b")
    a.fail = b.fail = always(BackendError("slow down", retryable=True, retry_after=2.0))
    pool = make_pool(a, b, clock=clock, eject_after=100, max_attempts=4, backoff_base=0.01)
    with pytest.raises(BackendError, match="slow down"):
        await pool.complete(REQUEST)
    assert (a.calls, b.calls) == (2, 2)
    # The first pass over the members is immediate; going back waits (Retry-After here).
    assert clock.sleeps == [2.0, 2.0]


@pytest.mark.parametrize("status", [400, 413, 422])
async def test_a_bad_request_is_not_failed_over_or_held_against_the_member(status: int) -> None:
    a, b = FakeJudge("a"), FakeJudge("b")
    a.fail = b.fail = always(BackendError("bad request", status=status))
    pool = make_pool(a, b, eject_after=1)
    with pytest.raises(BackendError, match="bad request"):
        await pool.complete(REQUEST)
    assert a.calls + b.calls == 1
    assert all(s.consecutive_failures == 0 and s.ejected_for_s == 0 for s in pool.snapshot())


async def test_non_backend_errors_propagate_untouched() -> None:
    a, b = FakeJudge("a"), FakeJudge("b")
    a.fail = b.fail = always(RuntimeError("bug"))  # type: ignore[arg-type]
    pool = make_pool(a, b)
    with pytest.raises(RuntimeError, match="bug"):
        await pool.complete(REQUEST)
    assert a.calls + b.calls == 1
    assert [s.outstanding for s in pool.snapshot()] == [0, 0]


def test_members_must_share_one_fingerprint() -> None:
    with pytest.raises(ConfigError, match="fingerprints"):
        JudgePool([FakeJudge("a", fingerprint="m:1"), FakeJudge("b", fingerprint="m:2")])
    with pytest.raises(ConfigError):
        JudgePool([])
    assert JudgePool([FakeJudge("a"), FakeJudge("b")]).fingerprint == "fake:1"


class Bare:
    """A judge of the two protocol members only: nothing to close."""

    fingerprint = "fake:1"

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        return JudgeReply(text=f"bare:{request.temperature}:{request.seed}")


async def test_sampling_and_aclose_reach_the_members() -> None:
    a, b = FakeJudge("a"), FakeJudge("b")
    pool = make_pool(a, b)
    bare_pool = make_pool(Bare(), a)  # type: ignore[arg-type]
    request = JudgeRequest((Message("user", "hi"),), (), max_tokens=5, temperature=0.7, seed=3)
    assert (await bare_pool.complete(request)).text == "bare:0.7:3"
    await pool.aclose()
    await bare_pool.aclose()  # a member without aclose is fine
    assert a.closed and b.closed


def retries_of(judge: object) -> int:
    assert isinstance(judge, Resilient)
    found = [j for j in layers(judge.outer) if isinstance(j, Retrying)]
    return found[0].policy.max_retries if found else 0


async def test_factory_builds_a_single_judge_or_a_pool() -> None:
    single = create_openai_judge("http://127.0.0.1:9/v1", "m", seed=1)
    assert isinstance(single, Resilient) and isinstance(single.provider, OpenAIJudge)
    assert retries_of(single) == 5
    pool = create_openai_judge(["http://127.0.0.1:9/v1", "http://127.0.0.2:9/v1"], "m", seed=1)
    assert isinstance(pool, JudgePool)
    assert [retries_of(j) for j in pool.judges] == [POOL_MEMBER_RETRIES] * 2
    assert pool.max_attempts == 6
    assert pool.fingerprint == single.fingerprint  # the URL is not part of it
    with pytest.raises(ConfigError):
        create_openai_judge([], "m")
    await single.aclose()
    await pool.aclose()


async def test_pool_of_real_servers_routes_around_a_dead_one() -> None:
    with JudgeServer() as good, JudgeServer(fault_rate=1.0, faults=("500",)) as bad:
        judge = create_openai_judge(
            [bad.url, good.url], "stub", backoff_base=0.001, backoff_max=0.002
        )
        user = '<response-00>\nfine\n</response-00>\n<criterion id="c1">\nIs polite\n</criterion>\n'
        request = JudgeRequest(messages=(Message("user", user),), criterion_ids=("c1",))
        replies = [await judge.complete(request) for _ in range(10)]
        await judge.aclose()
        good_calls, bad_calls = good.requests, bad.requests
    expected = json.dumps({"verdict": default_decide("c1", "Is polite", user)})
    assert [r.text for r in replies] == [expected] * 10
    assert good_calls == 10
    # Three failed calls eject it; each cost the member its own retry too.
    assert bad_calls == 3 * (1 + POOL_MEMBER_RETRIES)
