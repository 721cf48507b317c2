"""Turns at one in-process model: one call at a time, same-prompt-prefix callers first."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable

from rubricate.types import JudgeRequest

__all__ = ["PrefixTurns", "prefix_key"]


class PrefixTurns:
    """One call at a time, and the next turn to a waiter that shares the last call's prefix.

    Callers may interleave the criteria of many samples (the Grader starts every sample's
    first criterion before any second one); serving same-prefix requests back to back keeps
    the KV cache useful whatever the arrival order. Otherwise first come, first served.
    Loop-agnostic like ``Slots``: waiters are futures of the running loop, gone once served.
    """

    def __init__(self) -> None:
        self.busy = False
        self.last: Hashable = None
        self.waiters: list[tuple[Hashable, asyncio.Future[None]]] = []

    async def acquire(self, key: Hashable) -> None:
        if self.busy:
            turn = asyncio.get_running_loop().create_future()
            self.waiters.append((key, turn))
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self.release()  # granted just as we were cancelled: pass the turn on
                else:
                    self.waiters.remove((key, turn))
                raise
        self.busy = True
        self.last = key

    def release(self) -> None:
        if not self.waiters:
            self.busy = False
            return
        index = next((i for i, (k, _) in enumerate(self.waiters) if k == self.last), 0)
        self.waiters.pop(index)[1].set_result(None)  # stays busy: the turn passes directly


def prefix_key(request: JudgeRequest) -> Hashable:
    """What requests of one sample share: every message up to the shared part of the user's."""
    key: list[str] = []
    for message in request.messages:
        if message.role != "system" and len(message.content) >= request.shared_prefix_chars:
            key.append(message.content[: request.shared_prefix_chars])
            break
        key.append(message.content)
    return hash(tuple(key))
