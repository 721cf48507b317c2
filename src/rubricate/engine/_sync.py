"""The one bridge from synchronous code into the async engine.

``run_sync`` runs a coroutine to completion from synchronous code; ``LoopThread`` is the
long-lived form: one event loop on its own thread that any thread (``run``) or any other
loop (``arun``) hands coroutines to. ``run_sync`` inside a running loop is a ``LoopThread``
made for one call, so there is one mechanism, not two.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from rubricate.errors import ConfigError

T = TypeVar("T")


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` it, or, inside a running loop (Jupyter, some trainers), run it on a thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    loop = LoopThread(name="rubricate-sync")
    try:
        return loop.run(coroutine)
    finally:
        loop.close()


class LoopThread:
    """An event loop running on a daemon thread until ``close``.

    Args:
        setup: called on the loop's thread before it starts (to build loop-bound objects);
            an exception there is raised by the constructor.
        name: the thread's name.
    """

    def __init__(self, setup: Callable[[], object] | None = None, *, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, args=(setup,), name=name, daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def _main(self, setup: Callable[[], object] | None) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            if setup is not None:
                setup()
        except BaseException as error:  # re-raised in the constructor's thread
            self._error = error
            self._ready.set()
            self.loop.close()
            return
        self._ready.set()
        try:
            self.loop.run_forever()
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        """What ``asyncio.run`` does on the way out: cancel leftovers, close generators."""
        try:
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
        finally:
            self.loop.close()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop and wait for it (blocks the calling thread only)."""
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise ConfigError("a synchronous call cannot wait on its own event loop's thread")
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    async def arun(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """``run`` for async callers on any loop (never blocks that loop)."""
        if asyncio.get_running_loop() is self.loop:
            return await coroutine
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self.loop))

    def close(self, final: Coroutine[Any, Any, object] | None = None) -> None:
        """Run ``final`` (e.g. closing loop-bound resources), stop the loop, join the thread."""
        if not self._thread.is_alive() or self.loop.is_closed():
            if final is not None:
                final.close()
            return
        try:
            if final is not None:
                self.run(final)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=30)
