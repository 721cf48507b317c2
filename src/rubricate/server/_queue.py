"""Admission control: a bounded count of pending judgments, so load beyond it is refused, not queued.

Work is measured in criteria (one judgment each). A request is admitted whole when its
criteria fit under ``capacity``; otherwise it is refused with a ``Retry-After`` estimated from
how fast pending work has been draining. Units are released when the grading finishes, not
when the request returns (a request past its deadline still holds its units until its
judgments complete), so memory is bounded by ``capacity`` whatever the clients do.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

__all__ = ["Admission"]


class Admission:
    """Counts pending units against a capacity; single event loop, no locking needed."""

    def __init__(
        self,
        capacity: int,
        *,
        min_retry_after: float = 1.0,
        max_retry_after: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.pending = 0
        self.admitted = 0
        self.refused = 0
        self._bounds = (min_retry_after, max_retry_after)
        self._clock = clock
        self._rate = 0.0  # units per second, exponentially averaged
        self._last = clock()

    def fits(self, units: int) -> bool:
        """Whether a request of ``units`` could ever be admitted."""
        return units <= self.capacity

    def try_acquire(self, units: int) -> bool:
        if self.pending + units > self.capacity:
            self.refused += 1
            return False
        self.pending += units
        self.admitted += 1
        return True

    def release(self, units: int) -> None:
        self.pending = max(0, self.pending - units)
        now = self._clock()
        elapsed = max(now - self._last, 1e-3)
        self._last = now
        instant = units / elapsed
        self._rate = instant if self._rate == 0.0 else 0.8 * self._rate + 0.2 * instant

    def retry_after(self, units: int) -> int:
        """Whole seconds until ``units`` would probably fit, within the configured bounds."""
        low, high = self._bounds
        excess = self.pending + units - self.capacity
        if self._rate <= 0.0 or excess <= 0:
            return math.ceil(low)
        return math.ceil(min(high, max(low, excess / self._rate)))
