"""The reward path: one Grader (one judge pool, one cache, in-flight dedup) per process.

``RewardEngine`` is asyncio and belongs to one event loop. ``BackgroundEngine`` runs one on a
``LoopThread`` (the long-lived form of the engine's one sync bridge) so that synchronous
callers (verl's per-sample ``compute_score``, called thousands of times, often from executor
threads or from inside a running loop) share it instead of starting a loop per call. ``shared_engine`` keeps one per settings per process.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from rubricate.backends import Judge
from rubricate.engine import GradeOptions, Grader, LoopThread
from rubricate.errors import ConfigError
from rubricate.results import SampleResult
from rubricate.rewards._inputs import group_key
from rubricate.rewards._monitor import (
    Monitoring,
    RewardMonitor,
    drop_criteria,
    monitored,
    split_monitoring,
)
from rubricate.rewards._settings import (
    load_reward_settings,
    reward_settings,
    settings_key,
    split_reward_settings,
)
from rubricate.rewards._shaping import Shaping, shape_scores
from rubricate.session import Session
from rubricate.settings import JudgeSettings, Settings
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
        monitored: whether the gold judge graded the sample too.
        gold: the gold judge's reward (its score, clipped like the training one, never
            group-normalized); ``None`` when not monitored or ungradable by the gold judge.
        gold_diff: the training reward before group normalization minus ``gold``; ``None``
            when either is missing.
    """

    result: SampleResult
    reward: float | None
    monitored: bool = False
    gold: float | None = None
    gold_diff: float | None = None

    @property
    def ungradable(self) -> bool:
        return self.result.score is None

    @property
    def n_errors(self) -> int:
        return sum(1 for v in self.result.verdicts if v.verdict == "error")


class RewardEngine:
    """Grades samples and shapes their scores into rewards, through one session's ``Grader``.

    Args:
        judge: the judge to grade with (not closed by the engine unless its ``session`` owns it).
        shaping: how scores become rewards.
        options: grading options.
        store: the verdict cache.
        session: the session that holds judge, store and grader and is closed with the engine;
            when given, ``judge``, ``options`` and ``store`` come from it.
        monitoring: the reward-hacking monitors (gold judge share, window); default none.
        gold: the gold judge (not closed by the engine); default the one ``monitoring.gold``
            describes, built through a ``Session`` on the same cache (its fingerprint keeps its
            verdicts apart) and closed with the engine.
    """

    def __init__(
        self,
        judge: Judge,
        shaping: Shaping | None = None,
        *,
        options: GradeOptions | None = None,
        store: Store | None = None,
        session: Session | None = None,
        monitoring: Monitoring | None = None,
        gold: Judge | None = None,
    ) -> None:
        self.session = session or Session(
            judge=judge, store=store, options=options, owns_judge=False
        )
        self.judge = self.session.judge
        self.store = self.session.store
        self.grader = self.session.grader
        self.shaping = shaping or Shaping()
        self.monitoring = monitoring or Monitoring()
        self.monitor = RewardMonitor(self.monitoring.window)
        self.gold_session: Session | None = None
        if self.monitoring.fraction > 0:
            if gold is not None:
                self.gold_session = Session(
                    judge=gold, store=self.store, options=self.session.options, owns_judge=False
                )
            elif self.monitoring.gold is not None:
                self.gold_session = Session(self.monitoring.gold, store=self.store)
            else:
                raise ConfigError("monitor_fraction is set but there is no gold judge")

    @classmethod
    def from_settings(
        cls,
        settings: Settings | JudgeSettings,
        shaping: Shaping | None = None,
        monitoring: Monitoring | None = None,
    ) -> RewardEngine:
        """An engine whose session owns the judge and the cache the settings describe.

        With the whole ``Settings``, shaping and monitoring default to its ``reward`` group.
        """
        if isinstance(settings, Settings):
            monitoring = monitoring or split_monitoring(settings)
            settings, own_shaping = split_reward_settings(settings)
            shaping = shaping or own_shaping
        session = Session(settings)
        try:
            return cls(session.judge, shaping, session=session, monitoring=monitoring)
        except BaseException:
            session.close()
            raise

    @property
    def gold_grader(self) -> Grader | None:
        """The gold judge's grader (``None`` without monitoring)."""
        return self.gold_session.grader if self.gold_session is not None else None

    def prepare(self, sample: Sample, *, dropout: bool = True) -> Sample:
        """Apply the gate options and (with ``dropout``) rubric dropout to the rubric.
        Judgments stay cached: criterion fingerprints do not cover ``required`` or points,
        and dropout only leaves criteria out."""
        shaping = self.shaping
        rubric = sample.rubric
        dropping = dropout and shaping.dropout > 0
        if (
            shaping.gates
            and (shaping.gate_floor is None or shaping.gate_floor == rubric.gate_floor)
            and not dropping
        ):
            return sample
        update: dict[str, Any] = {}
        criteria = rubric.criteria
        if dropping:
            criteria = drop_criteria(
                criteria, sample.id, sample.response or "", shaping.dropout, shaping.seed
            )
        if not shaping.gates:
            criteria = tuple(c.model_copy(update={"required": False}) for c in criteria)
        if criteria is not rubric.criteria:
            update["criteria"] = criteria
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
        """Grade and shape in one go (the monitors watch the batch)."""
        outcomes, _ = await self.monitored_rewards(samples, groups)
        return outcomes

    async def monitored_rewards(
        self, samples: Sequence[Sample], groups: Sequence[Hashable] | None = None
    ) -> tuple[list[RewardOutcome], dict[str, float]]:
        """``rewards`` and the batch's monitor statistics (``MONITOR_KEYS``)."""
        return await self.watch(samples, self.shape(await self.grade(samples), groups), groups)

    async def watch(
        self,
        samples: Sequence[Sample],
        outcomes: Sequence[RewardOutcome],
        groups: Sequence[Hashable] | None = None,
        *,
        stats: bool = True,
    ) -> tuple[list[RewardOutcome], dict[str, float]]:
        """Grade the monitored share of ``samples`` with the gold judge too, record the batch
        in the monitor and return the outcomes (with their gold rewards) and its statistics
        (``stats=False``: an empty dict, and no pass over the monitor's window)."""
        monitoring = self.monitoring
        chosen = [
            i
            for i, s in enumerate(samples)
            if monitored(s.id, s.response or "", monitoring.fraction, monitoring.seed)
        ]
        gold: list[float | None] = [None] * len(samples)
        grader = self.gold_grader
        if chosen and grader is not None:
            full = [self.prepare(samples[i], dropout=False) for i in chosen]
            graded = await asyncio.gather(*(grader.grade_sample(s) for s in full))
            for index, result in zip(chosen, graded, strict=True):
                gold[index] = self._plain([result.score])[0]
        watched = set(chosen) if grader is not None else set()
        plain = self._plain([o.result.score for o in outcomes])
        updated = [
            replace(
                o,
                monitored=i in watched,
                gold=g,
                gold_diff=None if p is None or g is None else p - g,
            )
            for i, (o, p, g) in enumerate(zip(outcomes, plain, gold, strict=True))
        ]
        # The monitor reads a sample's group only when it has a gold grade: digest no other.
        keys = (
            groups
            if groups is not None
            else [
                "" if g is None else group_key(s.messages, s.rubric)
                for s, g in zip(samples, gold, strict=True)
            ]
        )
        lengths = [len(s.response or "") for s in samples]
        if not stats:
            self.monitor.record(plain, gold, lengths, keys)
            return updated, {}
        return updated, self.monitor.observe(plain, gold, lengths, keys)

    def _plain(self, scores: Sequence[float | None]) -> list[float | None]:
        """Rewards before group normalization (comparable across groups and judges)."""
        return shape_scores(scores, replace(self.shaping, normalize="none"))

    async def aclose(self) -> None:
        """Close the sessions: flush verdicts, then what they own (judges, cache)."""
        try:
            if self.gold_session is not None:
                await self.gold_session.aclose()
        finally:
            await self.session.aclose()


class BackgroundEngine:
    """A ``RewardEngine`` on its own ``LoopThread``, callable from any thread or loop.

    The engine is built on that thread, so its judge's connections belong to that loop and
    are reused by every call; ``run_sync`` would give each call a new loop instead.
    """

    def __init__(
        self, factory: Callable[[], RewardEngine], *, name: str = "rubricate-rewards"
    ) -> None:
        self._engine: RewardEngine | None = None
        self.pid = os.getpid()

        def build() -> None:
            self._engine = factory()

        self._loop = LoopThread(build, name=name)

    @property
    def engine(self) -> RewardEngine:
        if self._engine is None:
            raise ConfigError("the reward engine is not running")
        return self._engine

    @property
    def alive(self) -> bool:
        return self._loop.alive and self.pid == os.getpid()

    def call(self, work: Callable[[RewardEngine], Awaitable[T]]) -> T:
        """Run ``work(engine)`` on the engine's loop and wait for it (blocks this thread only)."""
        return self._loop.run(_awaited(work(self.engine)))

    async def acall(self, work: Callable[[RewardEngine], Awaitable[T]]) -> T:
        """``call`` for async callers on any event loop (never blocks that loop)."""
        return await self._loop.arun(_awaited(work(self.engine)))

    def close(self) -> None:
        """Close the engine's session on its loop, stop the loop, join the thread (idempotent)."""
        final = self._engine.aclose() if self._engine is not None and self._loop.alive else None
        try:
            self._loop.close(final)
        except Exception:  # closing must not hide the reason we stopped
            logger.exception("closing the reward engine failed")


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


_ENGINES: dict[str, BackgroundEngine] = {}
_LOCK = threading.Lock()


def shared_engine(overrides: Mapping[str, Any] | None = None) -> BackgroundEngine:
    """This process's engine for these settings (``overrides`` over ``RUBRICATE_*``), made once."""
    settings, shaping = reward_settings(overrides)
    monitoring = split_monitoring(load_reward_settings(overrides))
    key = settings_key(settings, shaping) + "|" + repr(monitoring)
    with _LOCK:
        engine = _ENGINES.get(key)
        if engine is None or not engine.alive:  # a forked child gets its own
            engine = BackgroundEngine(
                lambda: RewardEngine.from_settings(settings, shaping, monitoring)
            )
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
