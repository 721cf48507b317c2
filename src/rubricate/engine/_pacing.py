"""The cyclic garbage collector's pacing while samples are graded.

A grading run allocates a few dozen container objects per criterion (tasks, coroutines,
requests, verdicts). With CPython's default thresholds (700, 10, 10) the middle generation is
examined every 10 young collections, and whatever is in flight at that moment is promoted to
the old generation; enough promotions trigger a full collection, which walks every object the
process holds: a dataset loaded as a list, the caller's own data. With 2000 samples in memory
that was a fifth of the engine's CPU time (bench/README.md, engine_overhead).

``paced_collector`` examines the middle generation every 100 young collections instead while
at least one run is active in the process, and puts the caller's thresholds back when the last
one ends. Young collections keep their default pace, so short-lived cycles are freed as soon as
before; what changes is how long objects that survived a young collection wait before they are
examined again. Thresholds the caller raised beyond these, or changed during the run, are left
as they are; a collector the caller disabled stays disabled. Applied on CPython 3.10-3.13 only:
the thresholds mean something else under 3.14's incremental collector.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["MIDDLE_GENERATION_EVERY", "paced_collector"]

# Young collections between two examinations of the middle generation while a run is active.
MIDDLE_GENERATION_EVERY = 100

_APPLIES = sys.implementation.name == "cpython" and sys.version_info < (3, 14)


class _Pacing:
    """Runs active in the process, and the thresholds to put back when the last one ends."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.saved: tuple[int, int, int] | None = None
        self.ours: tuple[int, int, int] | None = None

    def enter(self) -> None:
        with self.lock:
            self.active += 1
            if self.active > 1 or not _APPLIES:
                return
            young, middle, old = gc.get_threshold()
            if young > 0 and middle < MIDDLE_GENERATION_EVERY:
                self.saved, self.ours = (young, middle, old), (young, MIDDLE_GENERATION_EVERY, old)
                gc.set_threshold(*self.ours)

    def leave(self) -> None:
        with self.lock:
            self.active -= 1
            if self.active > 0 or self.saved is None:
                return
            if gc.get_threshold() == self.ours:  # a change the caller made meanwhile stands
                gc.set_threshold(*self.saved)
            self.saved = self.ours = None


# One per process, like the collector it paces.
_PACING = _Pacing()


@contextmanager
def paced_collector() -> Iterator[None]:
    """Examine the collector's middle generation less often while the block runs (see the
    module docstring); the previous thresholds are back when the last such block ends."""
    _PACING.enter()
    try:
        yield
    finally:
        _PACING.leave()
