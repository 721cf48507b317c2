"""State that belongs to one event loop, kept per loop: the one rebinding mechanism in backends.

Open connections are bound to the loop that opened them. Synchronous entry points run each
batch in a fresh loop (``asyncio.run``), so a judge used by them must find fresh connections
in the next loop instead of dead ones. Everything else in ``backends`` (slots, rate budgets,
llama.cpp turns) is loop-agnostic: it keeps no loop objects between calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["PerLoop"]

T = TypeVar("T")


class PerLoop(Generic[T]):
    """The value ``make()`` built for the running loop, built on first use in each loop.

    Only the latest loop's value is kept: a loop that was left (``asyncio.run`` returned)
    never runs again, and its value is handed back by ``take`` for closing.
    """

    __slots__ = ("_loop", "_make", "_value")

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._loop: asyncio.AbstractEventLoop | None = None
        self._value: T | None = None

    def get(self) -> T:
        loop = asyncio.get_running_loop()
        if loop is not self._loop or self._value is None:
            self._loop, self._value = loop, self._make()
        return self._value

    def take(self) -> tuple[T | None, bool]:
        """Forget the value; returns it and whether it belongs to the running loop."""
        value, loop = self._value, self._loop
        self._value, self._loop = None, None
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        return value, loop is not None and loop is running
