"""One session: the judge, the cache and the grader that settings describe, closed together.

Every entry point (CLI, library, rewards, server, generation, Ray actors) builds its
resources through ``Session`` so that they are made and released in one place.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from rubricate.backends import Judge
from rubricate.config import JudgeSettings, build_judge
from rubricate.engine import GradeOptions, Grader, run_sync
from rubricate.store import Store, open_store

__all__ = ["Session"]


class Session:
    """Judge, store and grader for one run or one process.

    Args:
        settings: what to build; ``judge`` and ``store`` given explicitly win over it.
        judge: an existing judge to use instead of building one (not closed by the session
            unless ``owns_judge``).
        store: a ``Store``, a path to its SQLite file, or ``None`` for the settings' cache.
        policy: a model that writes missing responses (closed with the session).
        options: grading options; defaults to the settings' options.
    """

    def __init__(
        self,
        settings: JudgeSettings | None = None,
        *,
        judge: Judge | None = None,
        store: Store | str | Path | None = None,
        policy: Judge | None = None,
        options: GradeOptions | None = None,
        owns_judge: bool | None = None,
    ) -> None:
        self.settings = settings or JudgeSettings()
        self._owns_judge = judge is None if owns_judge is None else owns_judge
        self.judge = judge if judge is not None else build_judge(self.settings)
        if store is None:
            path = self.settings.cache_path() if settings is not None else None
            store = path
        try:
            self.store, self._owns_store = open_store(store)
        except BaseException:
            if self._owns_judge:
                run_sync(self.judge.aclose())
            raise
        self.policy = policy
        self.options = options or self.settings.grade_options()
        self._grader: Grader | None = None
        self._closed = False

    @property
    def grader(self) -> Grader:
        """The session's grader (made on first use, shared afterwards)."""
        if self._grader is None:
            self._grader = Grader(self.judge, store=self.store, options=self.options)
        return self._grader

    async def aclose(self) -> None:
        """Flush pending verdicts, close the judge, the policy and the store (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._grader is not None:
                self._grader.flush()
            if self._owns_judge:
                await self.judge.aclose()
            if self.policy is not None:
                await self.policy.aclose()
        finally:
            if self._owns_store and self.store is not None:
                self.store.close()

    def close(self) -> None:
        """``aclose`` from synchronous code."""
        run_sync(self.aclose())

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
