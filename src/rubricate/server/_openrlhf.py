"""What trainers that send one sample per request need from the server (OpenRLHF, NeMo Gym).

- Their clients cannot honour ``Retry-After`` (OpenRLHF's retries 5 times, 1 s apart, then drops
  the reward), so their requests wait in a bounded first-come-first-served queue for admission
  instead of getting 503 (``AdmissionQueue``).
- A group statistic over one sample is meaningless (z-score 0, rank 0.5), so server-wide
  normalization is refused at start-up (``refuse_group_normalization``).
- OpenRLHF reads ``scores`` as a value in [0, 1] for dynamic filtering (``openrlhf_reply``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Any

from rubricate.errors import ConfigError
from rubricate.rewards import RewardOutcome, Shaping
from rubricate.server._queue import Admission

__all__ = [
    "AdmissionQueue",
    "openrlhf_reply",
    "queue_capacity",
    "refuse_group_normalization",
]

QUEUE_FACTOR = 4  # default queue bound: this many times max_pending


def queue_capacity(max_pending: int, max_queued: int | None = None) -> int:
    """Criteria that may wait for admission: ``max_queued``, else ``4 × max_pending``
    (``rubricate serve`` reads ``max_queued`` from the settings: ``--max-queued``,
    ``RUBRICATE_SERVER_MAX_QUEUED`` or the config file)."""
    value = QUEUE_FACTOR * max_pending if max_queued is None else max_queued
    if value < 0:
        raise ConfigError(f"max_queued must be 0 or more, got {value}")
    return value


def refuse_group_normalization(shaping: Shaping) -> None:
    """Server-wide ``normalize`` would rescale each request alone; refuse it at start-up."""
    if shaping.normalize != "none":
        raise ConfigError(
            f"normalize={shaping.normalize} is refused: OpenRLHF's /get_reward client and NeMo "
            "Gym's /verify send one sample per request, and a z-score or rank over one sample "
            "is a constant (every reward would be 0.0 or 0.5). GRPO-style trainers already "
            "normalise within groups; to normalise here, send a whole group to POST /v1/reward "
            'with "normalize" in the body'
        )


class AdmissionQueue:
    """Waits for ``admission`` in arrival order instead of refusing, up to ``capacity`` waiting
    criteria; one event loop, no locking needed."""

    def __init__(self, admission: Admission, capacity: int) -> None:
        self.admission = admission
        self.capacity = capacity
        self.queued = 0  # criteria waiting
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    def _fits(self, units: int) -> bool:
        return self.admission.pending + units <= self.admission.capacity

    def try_now(self, units: int) -> bool:
        """Admit ``units`` at once if nobody waits and they fit (no waiting, nothing counted)."""
        return not self._waiting and self._fits(units) and self.admission.try_acquire(units)

    async def acquire(self, units: int) -> bool:
        """Admit ``units`` now or after those queued before; ``False`` when the queue is full."""
        if self.try_now(units):
            return True
        if self.queued + units > self.capacity:
            return False
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((units, turn))
        self.queued += units
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():  # admitted as we were cancelled: give back
                self.admission.release(units)
                self.wake()
            raise
        finally:
            self.queued -= units
        return True

    def wake(self) -> None:
        """Admit waiting requests, in order, while they fit (call after every release)."""
        while self._waiting:
            units, turn = self._waiting[0]
            if turn.done():  # its request gave up waiting
                self._waiting.popleft()
                continue
            if not self._fits(units) or not self.admission.try_acquire(units):
                return
            self._waiting.popleft()
            turn.set_result(None)


def openrlhf_reply(outcomes: Sequence[RewardOutcome], shaping: Shaping) -> dict[str, Any]:
    """OpenRLHF's reply: ``rewards`` (shaped), ``scores`` (the score clipped to [0, 1]) and
    ``extra_logs`` (lists of floats, one per query)."""
    fallback = shaping.fallback
    rewards = [fallback if o.reward is None else o.reward for o in outcomes]
    scores = [
        min(1.0, max(0.0, fallback if o.result.score is None else o.result.score)) for o in outcomes
    ]
    logs: dict[str, list[float]] = {
        "rubric_score": [fallback if o.result.score is None else o.result.score for o in outcomes],
        "ungradable": [1.0 if o.ungradable else 0.0 for o in outcomes],
        "n_errors": [float(o.n_errors) for o in outcomes],
        "gate_failed": [float(len(o.result.gate_failed)) for o in outcomes],
    }
    for axis in shaping.axes or ():
        values = [o.result.axes.get(axis) for o in outcomes]
        logs[f"axis/{axis}"] = [fallback if v is None else v for v in values]
    return {"rewards": rewards, "scores": scores, "extra_logs": logs}
