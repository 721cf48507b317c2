"""Intake pacing: at most a few requests per event-loop turn start their parsing and grading.

An RL step sends its rollouts at once: thousands of requests reach the server within
milliseconds. asyncio runs every callback that is ready at the start of a loop turn before it
looks at its sockets again, so parsing all of them and setting up their judgments (cache
keys, cache lookups, rendered requests) made one turn last seconds, and no judge reply was
read and no freed call slot refilled meanwhile: at 8,192 requests the judge sat idle about two
seconds per step. With the burst spread over turns, each turn also reads the judge replies that
arrived and sends the next calls.
"""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["REQUESTS_PER_TURN", "Intake"]

# About 5 ms of parsing and set-up per turn for an OpenRLHF request with 12 criteria.
REQUESTS_PER_TURN = 16


class Intake:
    """Lets at most ``per_turn`` requests per loop turn through ``enter``, first come first
    served; with nothing waiting, a request passes without suspending. Single event loop."""

    def __init__(self, per_turn: int = REQUESTS_PER_TURN) -> None:
        if per_turn < 1:
            raise ValueError(f"per_turn must be at least 1, got {per_turn}")
        self.per_turn = per_turn
        self.paced = 0  # requests that waited for a later turn
        self._entered = 0  # passed since the last turn began
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._turn_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def waiting(self) -> int:
        return sum(1 for future in self._waiting if not future.done())

    async def enter(self) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A new loop (a restarted server, a test client's): a turn scheduled on the old
            # one may never run, and its waiters belong to it.
            self._loop = loop
            self._entered = 0
            self._turn_pending = False
            self._waiting.clear()
        if not self._waiting and self._entered < self.per_turn:
            self._entered += 1
            self._next_turn_soon()
            return
        future = loop.create_future()
        self._waiting.append(future)
        self.paced += 1
        self._next_turn_soon()
        await future  # a cancelled waiter is skipped when its turn comes

    def _next_turn_soon(self) -> None:
        if not self._turn_pending:
            self._turn_pending = True
            # call_soon runs on the next turn, after the loop has polled its sockets.
            asyncio.get_running_loop().call_soon(self._turn)

    def _turn(self) -> None:
        self._turn_pending = False
        self._entered = 0
        waiting = self._waiting
        while waiting and self._entered < self.per_turn:
            future = waiting.popleft()
            if not future.done():
                future.set_result(None)
                self._entered += 1
        if waiting or self._entered:
            self._next_turn_soon()
