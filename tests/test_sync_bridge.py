"""The one sync bridge: ``run_sync`` and its long-lived form ``LoopThread``."""

from __future__ import annotations

import asyncio
import threading

import pytest

from rubricate.engine import LoopThread, run_sync
from rubricate.errors import ConfigError


async def where() -> tuple[int, int]:
    return threading.get_ident(), id(asyncio.get_running_loop())


def test_run_sync_inside_a_running_loop_uses_another_thread() -> None:
    async def caller() -> tuple[int, int]:
        return run_sync(where())

    thread, _ = asyncio.run(caller())
    assert thread != threading.get_ident()
    assert run_sync(where())[0] == threading.get_ident()  # no loop running: this thread


def test_loop_thread_keeps_one_loop_for_sync_and_async_callers() -> None:
    loop = LoopThread(name="test-loop")
    try:
        first = loop.run(where())
        assert loop.run(where()) == first and first[0] != threading.get_ident()
        assert asyncio.run(loop.arun(where())) == first
    finally:
        loop.close()
    assert not loop.alive


def test_loop_thread_runs_its_final_work_and_reports_errors() -> None:
    closed: list[bool] = []

    async def final() -> None:
        closed.append(True)

    loop = LoopThread(name="test-loop")
    with pytest.raises(ZeroDivisionError):
        loop.run(_divide())
    loop.close(final())
    assert closed == [True]
    loop.close()  # idempotent


async def _divide() -> float:
    return 1 / 0


def test_setup_errors_reach_the_constructor_and_self_waits_are_refused() -> None:
    def broken() -> None:
        raise RuntimeError("no judge")

    with pytest.raises(RuntimeError, match="no judge"):
        LoopThread(broken, name="test-loop")
    loop = LoopThread(name="test-loop")

    async def wait_on_itself() -> None:
        loop.run(where())

    try:
        with pytest.raises(ConfigError, match="own event loop"):
            loop.run(wait_on_itself())
    finally:
        loop.close()
