"""Concurrent work over a stream, results in input order, with a bounded window."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from typing import TypeVar

__all__ = ["map_in_order"]

T = TypeVar("T")
R = TypeVar("R")


async def map_in_order(
    items: Iterable[T], start: Callable[[T], Awaitable[R]], window: int
) -> AsyncGenerator[R, None]:
    """``start(item)`` for each item, at most ``window`` unfinished at once, yielded in input
    order. Work still running when the consumer stops (or fails) is cancelled; close the
    iterator explicitly (``contextlib.aclosing``) for that to happen at once."""
    pending: deque[asyncio.Future[R]] = deque()
    try:
        for item in items:
            pending.append(asyncio.ensure_future(start(item)))
            # Also yield whatever already finished at the head, so results stream out early.
            while len(pending) >= window or (pending and pending[0].done()):
                yield await pending.popleft()
        while pending:
            yield await pending.popleft()
    finally:
        for future in pending:
            future.cancel()
