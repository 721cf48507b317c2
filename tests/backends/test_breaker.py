"""The circuit breaker: opens after outages in a row, fails fast, half-opens for one probe, closes.

Attempts are counted, time is a fake clock; the loopback cases count the server's requests.
"""

from __future__ import annotations

import asyncio
import random
import socket

import pytest

from rubricate.backends import (
    CircuitBreaker,
    JudgePool,
    Resilient,
    Retrying,
    breakers,
    create_openai_judge,
    is_outage,
    layers,
    resilient,
)
from rubricate.errors import BackendError, ConfigError, JudgeDown, MalformedReply
from rubricate.types import JudgeReply
from tests.backends.test_wrappers import FLAKY, FakeClock, Handler, request
from tests.support.judge_server import JudgeServer

REFUSED = BackendError("judge connection failed: ConnectionRefusedError", retryable=True)
OK = JudgeReply("ok")


def breaker_over(handler: Handler, clock: FakeClock, **kwargs: object) -> CircuitBreaker:
    options: dict[str, object] = {"failures": 3, "cooldown": 5.0, "max_cooldown": 20.0}
    return CircuitBreaker(handler, clock=clock, **{**options, **kwargs})  # type: ignore[arg-type]


async def test_opens_after_outages_in_a_row_then_fails_fast_without_calling() -> None:
    clock, handler = FakeClock(), Handler(lambda _n, _r: REFUSED)
    breaker = breaker_over(handler, clock)
    for _ in range(3):
        with pytest.raises(BackendError, match="Refused"):
            await breaker.complete(request())
    assert breaker.snapshot().state == "open"
    for _ in range(50):
        with pytest.raises(JudgeDown, match=r"judge down: .* failed 3 calls in a row") as caught:
            await breaker.complete(request())
    assert len(handler.started) == 3  # none of the 50 reached the judge
    assert caught.value.retryable is False and caught.value.retry_after == 5.0
    state = breaker.snapshot()
    assert (state.refused_calls, state.times_opened, state.consecutive_failures) == (50, 1, 3)
    assert state.retry_in_s == 5.0 and "ConnectionRefusedError" in (state.last_failure or "")


async def test_an_open_breaker_ends_the_retries() -> None:
    clock, handler = FakeClock(), Handler(lambda _n, _r: REFUSED)
    judge = resilient(
        handler, max_retries=5, breaker_failures=3, sleep=clock.sleep, clock=clock, backoff_base=0.1
    )
    assert [type(layer) for layer in layers(judge)][1:3] == [Retrying, CircuitBreaker]
    with pytest.raises(JudgeDown):
        await judge.complete(request())
    assert len(handler.started) == 3  # three attempts open it; the fourth is refused unsent
    with pytest.raises(JudgeDown):
        await judge.complete(request("next"))
    assert len(handler.started) == 3 and len(clock.sleeps) == 3


async def test_answers_and_live_errors_reset_or_do_not_count() -> None:
    # Any answer, and any error that needs a live server, resets the run of outages.
    live = [
        OK,
        BackendError("429", retryable=True, status=429),
        MalformedReply("malformed reply: usage", retryable=True, status=200),
        BackendError("bad request", status=400),
    ]
    outcomes = [o for alive in live for o in (REFUSED, FLAKY, alive)] + [REFUSED, FLAKY, REFUSED]
    clock, handler = FakeClock(), Handler(lambda n, _r: outcomes[n])
    breaker = breaker_over(handler, clock)
    for outcome in outcomes[:-1]:
        if outcome is OK:
            await breaker.complete(request())
        else:
            with pytest.raises(BackendError):
                await breaker.complete(request())
        assert breaker.snapshot().state == "closed"
    with pytest.raises(BackendError, match="Refused"):
        await breaker.complete(request())
    assert breaker.snapshot().state == "open" and breaker.snapshot().consecutive_failures == 3
    assert len(handler.started) == len(outcomes)
    assert is_outage(FLAKY) and is_outage(REFUSED) and not any(map(is_outage, live[1:]))


async def test_half_open_sends_one_probe_and_closes_when_it_answers() -> None:
    clock, down = FakeClock(), [True]
    probe_sent = asyncio.Event()
    release = asyncio.Event()

    async def answer(_n: int, _r: object) -> object:
        if down[0]:
            return REFUSED
        probe_sent.set()
        await release.wait()
        return OK

    handler = Handler(answer)
    breaker = breaker_over(handler, clock)
    for _ in range(3):
        with pytest.raises(BackendError):
            await breaker.complete(request())
    clock.now += 4.9
    with pytest.raises(JudgeDown, match=r"next probe in 0\.1s"):
        await breaker.complete(request())
    clock.now += 0.1
    assert breaker.snapshot().state == "half_open"
    down[0] = False
    probe = asyncio.ensure_future(breaker.complete(request("probe")))
    await probe_sent.wait()
    for _ in range(5):  # while the probe is on the wire, everyone else still fails fast
        with pytest.raises(JudgeDown, match="a probe call is on the wire"):
            await breaker.complete(request())
    release.set()
    assert (await probe) is OK
    assert breaker.snapshot().state == "closed" and breaker.snapshot().consecutive_failures == 0
    await breaker.complete(request("after"))
    assert handler.started[-2:] == ["probe", "after"] and len(handler.started) == 5


async def test_a_failed_probe_reopens_for_twice_as_long_up_to_the_cap() -> None:
    clock, handler = FakeClock(), Handler(lambda _n, _r: REFUSED)
    breaker = breaker_over(handler, clock)
    for _ in range(3):
        with pytest.raises(BackendError):
            await breaker.complete(request())
    waits = []
    for _ in range(4):
        clock.now += breaker.snapshot().retry_in_s
        with pytest.raises(BackendError, match="Refused"):  # the probe reaches the judge
            await breaker.complete(request())
        waits.append(breaker.snapshot().retry_in_s)
        with pytest.raises(JudgeDown):
            await breaker.complete(request())
    assert waits == [10.0, 20.0, 20.0, 20.0]
    assert len(handler.started) == 3 + 4 and breaker.snapshot().times_opened == 5


async def test_a_cancelled_probe_lets_the_next_call_probe() -> None:
    clock = FakeClock()
    calls = [0]

    async def answer(n: int, _r: object) -> object:
        calls[0] += 1
        if n < 3:
            return REFUSED
        if n == 3:
            await asyncio.sleep(3600)
        return OK

    breaker = breaker_over(Handler(answer), clock)
    for _ in range(3):
        with pytest.raises(BackendError):
            await breaker.complete(request())
    clock.now += 5.0
    probe = asyncio.ensure_future(breaker.complete(request()))
    await asyncio.sleep(0)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert (await breaker.complete(request())) is OK
    assert calls[0] == 5 and breaker.snapshot().state == "closed"


async def test_failures_of_calls_sent_before_the_last_answer_do_not_count() -> None:
    # A flaky judge under concurrency: the calls that stall all fail together, after the
    # answers to calls sent alongside them. That is not a judge that is down.
    clock = FakeClock()
    stalled = asyncio.Event()

    async def answer(n: int, _r: object) -> object:
        if n % 2 == 0:
            await stalled.wait()
            return BackendError("judge call timed out after 1s", retryable=True)
        return OK

    breaker = breaker_over(Handler(answer), clock)
    calls = [asyncio.ensure_future(breaker.complete(request(str(i)))) for i in range(12)]
    await asyncio.sleep(0.01)
    stalled.set()
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert sum(isinstance(o, BackendError) for o in outcomes) == 6
    assert breaker.snapshot().state == "closed" and breaker.snapshot().consecutive_failures == 0


def test_settings_are_checked() -> None:
    handler = Handler(lambda _n, _r: OK)
    with pytest.raises(ConfigError, match="failures"):
        CircuitBreaker(handler, failures=0)
    with pytest.raises(ConfigError, match="cooldown"):
        CircuitBreaker(handler, cooldown=0.0)


async def test_a_pool_whose_members_are_all_down_fails_fast() -> None:
    clock = FakeClock()  # never moves: the breakers stay open
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    handlers = [Handler(lambda _n, _r: REFUSED) for _ in range(3)]
    members = [
        resilient(h, max_retries=1, breaker_failures=2, clock=clock, sleep=sleep) for h in handlers
    ]
    pool = JudgePool(members, max_attempts=10, clock=clock, sleep=sleep, rng=random.Random(0))
    assert len(list(breakers(pool))) == 3
    for _ in range(20):
        with pytest.raises(BackendError):
            await pool.complete(request())
    sent = sum(len(h.started) for h in handlers)
    assert sent == 3 * 2  # each member opened after two outages; then nothing was sent
    with pytest.raises(JudgeDown, match="every member of the pool is down"):
        await pool.complete(request())
    assert {b.snapshot().state for b in breakers(pool)} == {"open"}


# --- over loopback: a judge that answers 500, hangs, or is not there --------------------


def closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


async def gather_errors(judge: Resilient, n: int) -> list[BaseException]:
    outcomes = await asyncio.gather(
        *(judge.complete(request(f"q{i}")) for i in range(n)), return_exceptions=True
    )
    assert all(isinstance(o, BackendError) for o in outcomes)
    return [o for o in outcomes if isinstance(o, BaseException)]


async def test_a_judge_answering_500_to_everything_is_found_out_in_a_few_calls() -> None:
    with JudgeServer(fault_rate=1.0, faults=("500",), record=False) as server:
        judge = create_openai_judge(
            server.url, "stub", concurrency=4, max_retries=5, backoff_base=0.001, timeout=5
        )
        assert isinstance(judge, Resilient)
        async with judge:
            errors = await gather_errors(judge, 60)
        requests = server.requests
    # Ten outages open the breaker; the calls then still on the wire finish (at most 3 more).
    assert 10 <= requests <= 10 + 3, requests
    assert sum(isinstance(e, JudgeDown) for e in errors) >= 60 - 13
    assert "judge server answered 500" in str(errors[-1])


async def test_a_closed_port_fails_every_call_fast_with_judge_down() -> None:
    judge = create_openai_judge(closed_url(), "stub", concurrency=4, backoff_base=0.001)
    assert isinstance(judge, Resilient)
    async with judge:
        errors = await gather_errors(judge, 60)
    (breaker,) = breakers(judge)
    state = breaker.snapshot()
    assert state.state == "open" and state.refused_calls >= 60 - 14
    assert "ConnectionRefusedError" in (state.last_failure or "")
    assert isinstance(errors[-1], JudgeDown)


async def test_a_hanging_judge_costs_a_wave_of_timeouts_not_retries_times_timeout() -> None:
    with JudgeServer(fault_rate=1.0, faults=("timeout",), timeout_s=60, record=False) as server:
        judge = create_openai_judge(
            server.url, "stub", concurrency=8, timeout=0.3, max_retries=5, backoff_base=0.001
        )
        assert isinstance(judge, Resilient)
        async with judge:
            errors = await gather_errors(judge, 40)
        requests = server.requests
    # Without the breaker: 40 x 6 attempts of 0.3 s each. With it: the ten timeouts that open
    # it and at most the seven calls then still on the wire (eight slots).
    assert 10 <= requests <= 10 + 7, requests
    assert sum(isinstance(e, JudgeDown) for e in errors) >= 40 - 17
