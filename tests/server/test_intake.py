"""Intake pacing: a burst of requests is parsed a few per event-loop turn, in arrival order,
so the loop keeps reading judge replies and sending calls while a step's rollouts arrive."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from rubricate.server import _app
from rubricate.server._intake import Intake
from tests.rewards.rows import RESPONSES, own_scores
from tests.server.conftest import Serve
from tests.server.test_app import _metric, openrlhf_body
from tests.support.judge_server import JudgeServer


class TurnCounter:
    """Counts event-loop turns: a callback that runs once per turn and reschedules itself."""

    def __init__(self) -> None:
        self.turn = 0
        self._handle: asyncio.Handle | None = None

    def start(self) -> None:
        self._handle = asyncio.get_running_loop().call_soon(self._tick)

    def _tick(self) -> None:
        self.turn += 1
        self._handle = asyncio.get_running_loop().call_soon(self._tick)

    def stop(self) -> None:
        assert self._handle is not None
        self._handle.cancel()


async def test_a_burst_passes_a_few_per_turn_in_arrival_order() -> None:
    intake = Intake(per_turn=3)
    turns = TurnCounter()
    turns.start()
    passed: list[tuple[int, int]] = []

    async def request(number: int) -> None:
        await intake.enter()
        passed.append((number, turns.turn))

    await asyncio.gather(*(request(n) for n in range(10)))
    turns.stop()
    assert [number for number, _ in passed] == list(range(10))
    per_turn: dict[int, int] = {}
    for _, turn in passed:
        per_turn[turn] = per_turn.get(turn, 0) + 1
    assert max(per_turn.values()) == 3 and len(per_turn) == 4  # 3 + 3 + 3 + 1
    assert intake.paced == 7 and intake.waiting == 0


async def test_an_idle_intake_lets_requests_through_without_waiting() -> None:
    intake = Intake(per_turn=2)
    await intake.enter()
    await intake.enter()
    assert intake.paced == 0
    await intake.enter()  # a third in the same turn waits for the next
    assert intake.paced == 1


async def test_a_cancelled_waiter_is_skipped() -> None:
    intake = Intake(per_turn=1)
    first, second, third = (asyncio.ensure_future(intake.enter()) for _ in range(3))
    await asyncio.sleep(0)
    assert first.done() and intake.waiting == 2
    second.cancel()
    await asyncio.wait_for(third, 5)
    assert second.cancelled() and intake.waiting == 0


def test_a_new_event_loop_starts_afresh() -> None:
    """A loop stopped before its next turn never runs the scheduled reset; the next loop's
    requests must not wait for it."""
    intake = Intake(per_turn=2)

    async def fill_then_stop() -> None:
        await intake.enter()
        await intake.enter()
        asyncio.get_running_loop().stop()  # the turn that would reset the budget never runs
        await asyncio.sleep(1)

    first = asyncio.new_event_loop()
    with pytest.raises(RuntimeError, match="stopped before Future completed"):
        first.run_until_complete(fill_then_stop())
    first.close()

    async def enter_soon() -> None:
        await asyncio.wait_for(intake.enter(), 2)

    asyncio.run(enter_soon())
    assert intake.paced == 0


def test_per_turn_must_be_positive() -> None:
    with pytest.raises(ValueError, match="per_turn must be at least 1"):
        Intake(per_turn=0)


def test_a_paced_burst_gets_every_reward_right(
    judge_server: JudgeServer, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_app, "REQUESTS_PER_TURN", 1)  # pace every request after the first
    server = serve(judge_server.url)
    responses = [f"{text} (rollout {n})" for n in range(8) for text in RESPONSES]

    async def burst() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(responses))
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            return await asyncio.gather(
                *(
                    client.post(f"{server.url}/get_reward", json=openrlhf_body([text]))
                    for text in responses
                )
            )

    replies = asyncio.run(burst())
    assert [r.status_code for r in replies] == [200] * len(responses)
    rewards = [r.json()["rewards"][0] for r in replies]
    assert rewards == pytest.approx(own_scores(judge_server.url, responses))
    metrics = httpx.get(f"{server.url}/metrics").text
    assert _metric(metrics, "rubricate_intake_paced_total") > 0
