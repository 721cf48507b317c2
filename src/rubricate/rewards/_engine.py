"""The reward path: one Grader (one judge pool, one cache, in-flight dedup) per process.

``RewardEngine`` is asyncio and belongs to one event loop. ``BackgroundEngine`` runs one on a
long-lived daemon thread so that synchronous callers (verl's per-sample ``compute_score``,
called thousands of times, often from executor threads or from inside a running loop) share
it instead of starting a loop per call. ``shared_engine`` keeps one per settings per process.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from rubricate.backends import Judge
from rubricate.config import JudgeSettings, build_judge
from rubricate.engine import GradeOptions, Grader
from rubricate.errors import ConfigError
from rubricate.results import SampleResult
from rubricate.rewards._settings import reward_settings, settings_key
from rubricate.rewards._shaping import Shaping, shape_scores
from rubricate.store import Store
from rubricate.types import Sample

__all__ = ["BackgroundEngine", "RewardEngine", "RewardOutcome", "close_engines", "shared_engine"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RewardOutcome:
    """One sample's reward.

    Attributes:
        result: the graded sample (verdicts, score, axes) exactly as grading writes it.
        reward: the shaped reward; ``None`` when the sample is ungradable (all criteria errored).
    """

    result: SampleResult
    reward: float | None

    @property
    def ungradable(self) -> bool:
        return self.result.score is None

    @property
    def n_errors(self) -> int:
        return sum(1 for v in self.result.verdicts if v.verdict == "error")


class RewardEngine:
    """Grades samples and shapes their scores into rewards, through one ``Grader``."""

    def __init__(
        self,
        judge: Judge,
        shaping: Shaping | None = None,
        *,
        options: GradeOptions | None = None,
        store: Store | None = None,
        owns_resources: bool = False,
    ) -> None:
        self.judge = judge
        self.shaping = shaping or Shaping()
        self.store = store
        self.grader = Grader(judge, store=store, options=options)
        self._owns = owns_resources

    @classmethod
    def from_settings(cls, settings: JudgeSettings, shaping: Shaping | None = None) -> RewardEngine:
        """An engine that owns the judge and the cache the settings describe."""
        judge = build_judge(settings)
        path = settings.cache_path()
        store = Store(path) if path is not None else None
        return cls(
            judge, shaping, options=settings.grade_options(), store=store, owns_resources=True
        )

    def prepare(self, sample: Sample) -> Sample:
        """Apply the gate options to the rubric. Judgments stay cached: criterion fingerprints
        do not cover ``required`` or points."""
        shaping = self.shaping
        rubric = sample.rubric
        if shaping.gates and (
            shaping.gate_floor is None or shaping.gate_floor == rubric.gate_floor
        ):
            return sample
        update: dict[str, Any] = {}
        if not shaping.gates:
            update["criteria"] = tuple(
                c.model_copy(update={"required": False}) for c in rubric.criteria
            )
        if shaping.gate_floor is not None:
            update["gate_floor"] = shaping.gate_floor
        rubric = rubric.model_copy(update=update)
        return Sample(sample.id, sample.messages, rubric, sample.response, sample.metadata)

    async def grade(self, samples: Sequence[Sample]) -> list[SampleResult]:
        """Grade ``samples`` concurrently (identical pending judgments are asked for once)."""
        prepared = [self.prepare(s) for s in samples]
        if len(prepared) == 1:
            return [await self.grader.grade_sample(prepared[0])]
        return list(await asyncio.gather(*(self.grader.grade_sample(s) for s in prepared)))

    def shape(
        self, results: Sequence[SampleResult], groups: Sequence[Hashable] | None = None
    ) -> list[RewardOutcome]:
        """Rewards for graded samples; ``groups`` keys the completions of one prompt."""
        rewards = shape_scores([r.score for r in results], self.shaping, groups)
        return [RewardOutcome(r, w) for r, w in zip(results, rewards, strict=True)]

    async def rewards(
        self, samples: Sequence[Sample], groups: Sequence[Hashable] | None = None
    ) -> list[RewardOutcome]:
        """Grade and shape in one go."""
        return self.shape(await self.grade(samples), groups)

    async def aclose(self) -> None:
        """Close the judge and the cache when this engine opened them."""
        if not self._owns:
            return
        await self.judge.aclose()
        if self.store is not None:
            self.store.close()


class BackgroundEngine:
    """A ``RewardEngine`` on its own event-loop thread, callable from any thread or loop."""

    def __init__(
        self, factory: Callable[[], RewardEngine], *, name: str = "rubricate-rewards"
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._engine: RewardEngine | None = None
        self.pid = os.getpid()
        self._thread = threading.Thread(target=self._run, args=(factory,), name=name, daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def _run(self, factory: Callable[[], RewardEngine]) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._engine = factory()
        except BaseException as error:  # re-raised in the constructor's thread
            self._error = error
            self._ready.set()
            self._loop.close()
            return
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            try:
                self._loop.run_until_complete(self._engine.aclose())
            except Exception:  # closing must not hide the reason we stopped
                logger.exception("closing the reward engine failed")
            self._loop.close()

    @property
    def engine(self) -> RewardEngine:
        if self._engine is None:
            raise ConfigError("the reward engine is not running")
        return self._engine

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and self.pid == os.getpid()

    def call(self, work: Callable[[RewardEngine], Awaitable[T]]) -> T:
        """Run ``work(engine)`` on the engine's loop and wait for it (blocks this thread only)."""
        if threading.current_thread() is self._thread:
            raise ConfigError(
                "a synchronous reward call cannot run on the reward engine's own loop"
            )
        engine = self.engine
        return asyncio.run_coroutine_threadsafe(_awaited(work(engine)), self._loop).result()

    async def acall(self, work: Callable[[RewardEngine], Awaitable[T]]) -> T:
        """``call`` for async callers on any event loop (never blocks that loop)."""
        engine = self.engine
        if asyncio.get_running_loop() is self._loop:
            return await work(engine)
        future = asyncio.run_coroutine_threadsafe(_awaited(work(engine)), self._loop)
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """Stop the loop, close judge and cache, join the thread (idempotent)."""
        if self._thread.is_alive() and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


_ENGINES: dict[str, BackgroundEngine] = {}
_LOCK = threading.Lock()


def shared_engine(overrides: Mapping[str, Any] | None = None) -> BackgroundEngine:
    """This process's engine for these settings (``overrides`` over ``RUBRICATE_*``), made once."""
    settings, shaping = reward_settings(overrides)
    key = settings_key(settings, shaping)
    with _LOCK:
        engine = _ENGINES.get(key)
        if engine is None or not engine.alive:  # a forked child gets its own
            engine = BackgroundEngine(lambda: RewardEngine.from_settings(settings, shaping))
            _ENGINES[key] = engine
            logger.info(
                "rubricate reward engine started (judge %s)", engine.engine.judge.fingerprint
            )
        return engine


def close_engines() -> None:
    """Close every shared engine of this process (also run at interpreter exit)."""
    with _LOCK:
        engines = [e for e in _ENGINES.values() if e.pid == os.getpid()]
        _ENGINES.clear()
    for engine in engines:
        engine.close()


atexit.register(close_engines)
