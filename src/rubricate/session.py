"""One session: the judge, the cache and the grader that settings describe, closed together.

Every entry point (CLI, library, rewards, server, generation, Ray actors) builds its
resources through ``Session`` so that they are made and released in one place.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path
from types import TracebackType

from rubricate.backends import Judge, close_judge
from rubricate.calibrate import CalibrationFile, read_calibration
from rubricate.engine import GradeOptions, Grader, Jury, PolicySampler, run_sync
from rubricate.settings import JudgeSettings, Settings, build_judge, build_jury, build_policy
from rubricate.store import Store, open_store

__all__ = ["Session"]


class Session:
    """Judge, store, policy and grader for one run or one process; a (sync or async) context manager.

    Args:
        settings: what to build: the whole ``Settings`` (judge, cache and policy) or only
            ``JudgeSettings``; ``None`` builds the default judge with no cache.
        judge: an existing judge to use instead of building one (closed by the session only
            with ``owns_judge=True``).
        store: a ``Store``, a path to its SQLite file, or ``None`` for the settings' cache.
        policy: a model that writes missing responses; default the one ``settings.policy``
            describes, if any.
        options: grading options; defaults to the settings' options.
        owns_judge: whether closing the session closes ``judge``; default: when it built it.
        jury: judges that decide together (default: the jury file ``settings.jury`` names);
            ``judge`` is then its first member's judge, for the stages one judge serves
            (generation, probes), and the grader asks every member.
        calibration: maps from each judge's P(met) (default: ``settings.calibration``).
        owns_policy: whether closing the session closes a given ``policy`` (one it built, it
            always closes).

    Whatever was built is closed when the constructor fails, and ``aclose`` closes every
    resource even when closing one of them raises.
    """

    def __init__(
        self,
        settings: Settings | JudgeSettings | None = None,
        *,
        judge: Judge | None = None,
        store: Store | str | Path | None = None,
        policy: Judge | None = None,
        options: GradeOptions | None = None,
        owns_judge: bool | None = None,
        owns_policy: bool = True,
        jury: Jury | None = None,
        calibration: CalibrationFile | None = None,
    ) -> None:
        whole = settings if isinstance(settings, Settings) else None
        if isinstance(settings, Settings):
            self.settings = settings.judge
        else:
            self.settings = settings or JudgeSettings()
        self.policy_max_tokens = whole.policy.max_tokens if whole is not None else 1024
        self._resources = AsyncExitStack()
        self._grader: Grader | None = None
        self._sampler: PolicySampler | None = None
        self._closed = False
        try:
            self.calibration = calibration
            if calibration is None and self.settings.calibration is not None:
                self.calibration = read_calibration(self.settings.calibration)
            self.jury = jury if jury is not None else build_jury(self.settings)
            if self.jury is not None:
                if jury is None:
                    self._resources.push_async_callback(self.jury.aclose)
                self.judge = judge if judge is not None else self.jury.members[0].judge
            else:
                self.judge = judge if judge is not None else build_judge(self.settings)
            owned = judge is None and self.jury is None
            if owns_judge if owns_judge is not None else owned:
                self._resources.push_async_callback(close_judge, self.judge)
            if store is None and settings is not None:
                store = self.settings.cache_path()
            self.store, owns_store = open_store(store)
            if owns_store and self.store is not None:
                self._resources.callback(self.store.close)
            self.policy = policy
            if policy is None and whole is not None:
                self.policy = build_policy(whole.policy, whole.judge)
            if self.policy is not None and (owns_policy or policy is None):
                self._resources.push_async_callback(close_judge, self.policy)
        except BaseException:
            run_sync(self._resources.aclose())
            raise
        self.options = options or self.settings.grade_options()

    @property
    def grader(self) -> Grader:
        """The session's grader (made on first use, shared afterwards; flushed on close)."""
        if self._grader is None:
            self._grader = Grader(
                self.judge,
                store=self.store,
                options=self.options,
                jury=self.jury,
                calibration=self.calibration,
            )
            self._resources.callback(self._grader.flush)
        return self._grader

    @property
    def sampler(self) -> PolicySampler | None:
        """The policy-sampling stage (``None`` without a policy; made on first use)."""
        if self._sampler is None and self.policy is not None:
            self._sampler = PolicySampler(
                self.policy,
                store=self.store,
                max_tokens=self.policy_max_tokens,
                concurrency=self.options.concurrency,
            )
            self._resources.callback(self._sampler.flush)
        return self._sampler

    async def aclose(self) -> None:
        """Flush pending verdicts, close the policy, the judge and the store (idempotent)."""
        if self._closed:
            return
        self._closed = True
        await self._resources.aclose()

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
