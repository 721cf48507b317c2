"""The admission queue of one-sample-per-request trainers: bounded, first come first served,
and a request that gives up waiting leaves no units behind."""

from __future__ import annotations

import asyncio

import pytest

from rubricate.errors import ConfigError
from rubricate.server._openrlhf import AdmissionQueue, queue_capacity
from rubricate.server._queue import Admission


async def test_waiters_are_admitted_in_order_as_units_are_released() -> None:
    admission = Admission(10)
    queue = AdmissionQueue(admission, capacity=8)
    assert queue.try_now(10)
    order: list[str] = []

    async def wait(name: str, units: int) -> bool:
        admitted = await queue.acquire(units)
        order.append(name)
        return admitted

    first = asyncio.ensure_future(wait("first", 4))
    second = asyncio.ensure_future(wait("second", 4))
    await asyncio.sleep(0)
    assert queue.queued == 8
    assert await queue.acquire(1) is False  # beyond the queue's bound
    assert not queue.try_now(1)  # others wait: no overtaking
    admission.release(10)
    queue.wake()
    assert await first and await second
    assert order == ["first", "second"] and admission.pending == 8 and queue.queued == 0


async def test_a_cancelled_waiter_leaves_no_units_behind() -> None:
    admission = Admission(4)
    queue = AdmissionQueue(admission, capacity=8)
    assert queue.try_now(4)
    gives_up = asyncio.ensure_future(queue.acquire(4))
    patient = asyncio.ensure_future(queue.acquire(4))
    await asyncio.sleep(0)
    gives_up.cancel()
    await asyncio.gather(gives_up, return_exceptions=True)
    admission.release(4)
    queue.wake()
    assert await patient
    assert admission.pending == 4 and queue.queued == 0


def test_queue_capacity_defaults_to_four_times_max_pending(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The server reads no variable behind the settings tree (serve.max_queued reads it).
    monkeypatch.setenv("RUBRICATE_SERVER_MAX_QUEUED", "12288")
    assert queue_capacity(100) == 400
    assert queue_capacity(100, 0) == 0 and queue_capacity(100, 7) == 7
    with pytest.raises(ConfigError, match="max_queued"):
        queue_capacity(100, -1)
