"""Reward-hacking monitors and rubric dropout: pure, seeded, no I/O.

A policy that games the training judge raises its reward while a stronger (gold) judge's
grade of the same responses falls, or learns that longer answers pay. ``RewardMonitor``
watches both, per process, over the samples it is shown:

- ``gold_frac``: share of the batch also graded by the gold judge (``monitor_fraction``,
  chosen by ``monitored``: a seeded hash of sample id and response, so the same response is
  always chosen or never, on any process);
- ``gold_diff``: mean of training minus gold reward over the batch's monitored samples;
  ``gold_diff_window`` the same over the window;
- ``gold_corr_window``: Pearson correlation of training and gold rewards over the window;
- ``gold_rise_fall_window``: share of monitored samples whose training reward rose while the
  gold reward fell, each against the previous monitored response to the same prompt;
- ``length_corr``: Pearson correlation of reward with response length (characters) over the
  batch; ``length_corr_window`` over the window.

Rewards here are the clipped scores before group normalization (normalized rewards of
different groups are not comparable). Every value is a finite float: a statistic without
enough data (fewer than two pairs, no spread, nothing monitored) is 0.0, so the key set a
trainer logs never changes (TRL gathers keys across processes; GDPO reads float arrays).
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict, deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from rubricate.errors import ConfigError
from rubricate.rubric import Criterion
from rubricate.settings import JudgeSettings, Settings

__all__ = [
    "MONITOR_KEYS",
    "Monitoring",
    "RewardMonitor",
    "drop_criteria",
    "monitored",
    "pearson",
    "split_monitoring",
]

MONITOR_KEYS: tuple[str, ...] = (
    "gold_frac",
    "gold_diff",
    "gold_diff_window",
    "gold_corr_window",
    "gold_rise_fall_window",
    "length_corr",
    "length_corr_window",
)
_PROMPTS_KEPT = 4096  # prompts whose last monitored rewards are remembered (oldest dropped)


@dataclass(frozen=True, slots=True)
class Monitoring:
    """What the reward monitors watch (``reward.monitor_*`` and ``reward.gold_*`` settings).

    Attributes:
        gold: the gold judge's settings; ``None``: no gold judge.
        fraction: share of samples also graded by the gold judge, in [0, 1].
        window: samples the window statistics look back over.
        seed: seed of the choice of monitored samples.
    """

    gold: JudgeSettings | None = None
    fraction: float = 0.0
    window: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 1.0:
            raise ConfigError(f"monitor_fraction must be in [0, 1], got {self.fraction}")
        if self.window < 2:
            raise ConfigError(f"monitor_window must be at least 2, got {self.window}")


def split_monitoring(settings: Settings) -> Monitoring:
    """The monitors a settings tree describes (the gold judge inherits the judge's limits).

    Raises:
        ConfigError: ``monitor_fraction`` without a gold judge.
    """
    reward = settings.reward
    gold = reward.gold_judge(settings.judge)
    if reward.monitor_fraction > 0 and gold is None:
        raise ConfigError(
            f"setting 'reward.monitor_fraction' ({settings.source_of('reward.monitor_fraction')}) "
            "needs a gold judge: gold_judge_url and gold_judge_model "
            "(RUBRICATE_REWARD_GOLD_JUDGE_URL, RUBRICATE_REWARD_GOLD_JUDGE_MODEL) or gold_local_model"
        )
    return Monitoring(
        gold=gold,
        fraction=reward.monitor_fraction,
        window=reward.monitor_window,
        seed=reward.seed,
    )


def _unit(*parts: object) -> float:
    """A uniform number in [0, 1) from a hash of ``parts`` (stable across processes and runs)."""
    text = "\x1f".join(str(p) for p in parts)
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def monitored(sample_id: str, response: str, fraction: float, seed: int) -> bool:
    """Whether this sample also goes to the gold judge."""
    return fraction > 0 and _unit("gold", seed, sample_id, response) < fraction


def drop_criteria(
    criteria: Sequence[Criterion], sample_id: str, response: str, dropout: float, seed: int
) -> tuple[Criterion, ...]:
    """The criteria a sample is scored on under rubric ``dropout``.

    Each criterion is left out with probability ``dropout``, decided by a hash of seed, sample
    id, response and criterion id, so a response is always scored on the same subset. At
    least one criterion with positive points stays (when there is one): without it the
    HealthBench score has no denominator and the sample would be ungradable.
    """
    if dropout <= 0 or not criteria:
        return tuple(criteria)
    draws = [_unit("dropout", seed, sample_id, response, c.id) for c in criteria]
    kept = [i for i, u in enumerate(draws) if u >= dropout]
    positive = [i for i, c in enumerate(criteria) if c.points > 0]
    candidates = positive or list(range(len(criteria)))
    if not any(i in candidates for i in kept):
        kept.append(max(candidates, key=lambda i: draws[i]))
    return tuple(criteria[i] for i in sorted(kept))


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Pearson correlation; 0.0 with fewer than two pairs or no spread in either."""
    n = len(xs)
    if n != len(ys):
        raise ValueError(f"got {n} and {len(ys)} values")
    if n < 2:
        return 0.0
    mx = math.fsum(xs) / n
    my = math.fsum(ys) / n
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    syy = math.fsum((y - my) ** 2 for y in ys)
    if sxx <= 1e-24 or syy <= 1e-24:
        return 0.0
    sxy = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values) if values else 0.0


class RewardMonitor:
    """Batch and window statistics of rewards, gold rewards and response lengths.

    Not thread-safe: the reward engine calls it from its one event loop.
    """

    def __init__(self, window: int = 256) -> None:
        self.window = window
        self._gold: deque[tuple[float, float]] = deque(maxlen=window)
        self._lengths: deque[tuple[float, float]] = deque(maxlen=window)
        self._rise_fall: deque[bool] = deque(maxlen=window)
        self._last: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()
        self.n_gold = 0  # monitored samples seen with both rewards, since start

    def observe(
        self,
        rewards: Sequence[float | None],
        gold: Sequence[float | None],
        lengths: Sequence[int],
        groups: Sequence[Hashable],
    ) -> dict[str, float]:
        """Record a batch and return its statistics (keys ``MONITOR_KEYS``).

        ``rewards``: training rewards (``None``: ungradable, left out); ``gold``: gold rewards
        of the monitored samples (``None`` where not monitored or ungradable); ``lengths``:
        response lengths; ``groups``: the prompt each sample answers.
        """
        pairs, lengths_batch = self.record(rewards, gold, lengths, groups)
        stats = self.window_stats()
        stats["gold_frac"] = sum(g is not None for g in gold) / len(gold) if gold else 0.0
        stats["gold_diff"] = _mean([r - g for r, g in pairs])
        stats["length_corr"] = pearson([x for x, _ in lengths_batch], [y for _, y in lengths_batch])
        return {key: float(stats[key]) for key in MONITOR_KEYS}

    def record(
        self,
        rewards: Sequence[float | None],
        gold: Sequence[float | None],
        lengths: Sequence[int],
        groups: Sequence[Hashable],
    ) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """Record a batch as ``observe`` does without computing its statistics (a pass over
        the whole window); returns its (reward, gold) and (length, reward) pairs. ``groups``
        are read only for samples with both rewards."""
        if not len(rewards) == len(gold) == len(lengths) == len(groups):
            raise ValueError("rewards, gold, lengths and groups must have one item per sample")
        pairs: list[tuple[float, float]] = []
        lengths_batch: list[tuple[float, float]] = []
        for reward, gold_reward, length, group in zip(rewards, gold, lengths, groups, strict=True):
            if reward is None:
                continue
            lengths_batch.append((float(length), reward))
            if gold_reward is None:
                continue
            pairs.append((reward, gold_reward))
            previous = self._last.pop(group, None)
            if previous is not None:
                self._rise_fall.append(reward > previous[0] and gold_reward < previous[1])
            self._last[group] = (reward, gold_reward)
            while len(self._last) > _PROMPTS_KEPT:
                self._last.popitem(last=False)
        self._gold.extend(pairs)
        self._lengths.extend(lengths_batch)
        self.n_gold += len(pairs)
        return pairs, lengths_batch

    def window_stats(self) -> dict[str, float]:
        """The window statistics now (the batch keys are 0.0)."""
        gold = list(self._gold)
        lengths = list(self._lengths)
        stats = dict.fromkeys(MONITOR_KEYS, 0.0)
        stats["gold_diff_window"] = _mean([r - g for r, g in gold])
        stats["gold_corr_window"] = pearson([r for r, _ in gold], [g for _, g in gold])
        stats["gold_rise_fall_window"] = _mean([float(x) for x in self._rise_fall])
        stats["length_corr_window"] = pearson([x for x, _ in lengths], [y for _, y in lengths])
        return stats
