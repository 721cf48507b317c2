"""verl reward functions: the implementation behind ``rubricate.rewards.verl``.

verl loads its reward file by path as a module outside ``sys.modules``, where dataclasses
cannot be defined; so the code lives here and ``verl.py`` only re-exports it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rubricate.errors import ConfigError, InputError
from rubricate.rewards._engine import BackgroundEngine, RewardEngine, RewardOutcome, shared_engine
from rubricate.rewards._inputs import group_key, verl_sample
from rubricate.rewards._settings import load_reward_settings
from rubricate.rewards._shaping import Shaping
from rubricate.settings import RewardSettings, Settings
from rubricate.types import Sample

__all__ = [
    "BASE_KEYS",
    "DEFAULT_NUM_WORKERS",
    "VerlOptions",
    "compute_score",
    "compute_score_async",
    "compute_score_batch",
    "compute_score_batch_async",
    "extra_keys",
    "split_kwargs",
]

# verl's reward.num_workers default, declared with the setting (reward.num_workers).
DEFAULT_NUM_WORKERS: int = RewardSettings.model_fields["num_workers"].default
_ROUTER_KEYS = ("reward_router_address", "reward_model_tokenizer")
_JUDGE_URL_KEYS = ("judge_url", "judge_urls", "url")
BASE_KEYS = ("score", "rubric_score", "ungradable", "n_criteria", "n_errors", "gate_failed")
# Where a value came from, lowest first: the later layer wins, as for any one setting.
_LAYERS = {"default": 0, "file": 1, "env": 2, "argument": 3, "flag": 3}


@dataclass(frozen=True, slots=True)
class VerlOptions:
    """The settings only this module reads (``reward.axis_fill``, ``reward.num_workers``,
    ``reward.total_concurrency``).

    Attributes:
        axis_fill: value of ``axis/NAME`` when the rubric has no criterion on that axis.
        total_concurrency: judge calls in flight across all reward workers; ``None``: per-process
            ``concurrency`` applies (and the total is ``num_workers`` times it).
        num_workers: verl's ``reward.num_workers``, the processes sharing ``total_concurrency``.
    """

    axis_fill: float = 0.0
    total_concurrency: int | None = None
    num_workers: int = DEFAULT_NUM_WORKERS

    def __post_init__(self) -> None:
        if not math.isfinite(self.axis_fill):
            raise ConfigError(f"axis_fill must be a finite number, got {self.axis_fill}")
        if self.num_workers < 1:
            raise ConfigError(f"num_workers must be at least 1, got {self.num_workers}")
        if self.total_concurrency is not None and self.total_concurrency < self.num_workers:
            raise ConfigError(
                f"total_concurrency={self.total_concurrency} is below num_workers={self.num_workers}: "
                "every reward worker process needs at least one judge slot"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> VerlOptions:
        """The options of a loaded settings tree; a conflict names where each value came from."""
        reward = settings.reward
        total = reward.total_concurrency
        if total is not None and total < reward.num_workers:
            raise ConfigError(
                f"setting 'reward.total_concurrency' ({settings.source_of('reward.total_concurrency')})"
                f" = {total} is below num_workers = {reward.num_workers} "
                f"({settings.source_of('reward.num_workers')}): every reward worker process needs "
                "at least one judge slot"
            )
        return cls(
            axis_fill=reward.axis_fill, total_concurrency=total, num_workers=reward.num_workers
        )

    @property
    def per_process_concurrency(self) -> int | None:
        if self.total_concurrency is None:
            return None
        return self.total_concurrency // self.num_workers


def _layer(source: str) -> int:
    """``"env RUBRICATE_CONCURRENCY"`` -> its rank in ``_LAYERS``."""
    return _LAYERS[source.split(" ", 1)[0]]


def split_kwargs(reward_kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], VerlOptions]:
    """The shared reward settings and this module's own options from verl's keyword arguments.

    Every option is a settings field, so it may also come from the config file or a
    ``RUBRICATE_*`` variable. ``total_concurrency`` and the per-process ``concurrency`` are two
    spellings of one limit: the one from the later layer wins; from the same layer they clash.

    Raises:
        ConfigError: a bad value, or both limits from one layer; the message names the sources.
    """
    settings = {k: v for k, v in reward_kwargs.items() if k not in _ROUTER_KEYS}
    router = reward_kwargs.get("reward_router_address")
    if router and not any(settings.get(k) for k in _JUDGE_URL_KEYS):
        address = str(router)
        base = address if "://" in address else f"http://{address}"
        settings["judge_url"] = base.rstrip("/") + "/v1"
    loaded = load_reward_settings(settings)
    options = VerlOptions.from_settings(loaded)
    per_process = options.per_process_concurrency
    if per_process is not None:
        total_from = loaded.source_of("reward.total_concurrency")
        each_from = loaded.source_of("judge.concurrency")
        if _layer(each_from) == _layer(total_from):
            raise ConfigError(
                f"give either concurrency (per reward worker; {each_from}) or total_concurrency "
                f"(across num_workers reward workers; {total_from}), not both"
            )
        if _layer(total_from) > _layer(each_from):
            settings["concurrency"] = per_process
    return settings, options


def extra_keys(axes: Sequence[str] = ()) -> list[str]:
    """The keys every call returns for these configured ``axes``, in order."""
    keys = list(BASE_KEYS)
    for axis in axes:
        keys += [f"axis/{axis}", f"has_axis/{axis}"]
    return keys


def _extras(outcome: RewardOutcome, shaping: Shaping, options: VerlOptions) -> dict[str, float]:
    result = outcome.result
    fallback = shaping.fallback
    reward = fallback if outcome.reward is None else outcome.reward
    extras: dict[str, float] = {
        "score": float(reward),
        "rubric_score": float(fallback if result.score is None else result.score),
        "ungradable": 1.0 if outcome.ungradable else 0.0,
        "n_criteria": float(len(result.verdicts)),
        "n_errors": float(outcome.n_errors),
        "gate_failed": float(len(result.gate_failed)),
    }
    for axis in shaping.axes or ():
        value = result.axes.get(axis)
        extras[f"axis/{axis}"] = options.axis_fill if value is None else float(value)
        extras[f"has_axis/{axis}"] = 0.0 if value is None else 1.0
    return extras


def _located(error: InputError, index: int, batch: bool) -> InputError:
    if not batch:
        return error
    field = error.field or "extra_info"
    head, _, tail = field.partition(".")
    plural = {
        "extra_info": "extra_infos",
        "solution_str": "solution_strs",
        "ground_truth": "ground_truths",
    }
    located = f"{plural.get(head, head)}[{index}]" + (f".{tail}" if tail else "")
    return InputError(error.reason, field=located)


def _samples(
    data_sources: Sequence[Any],
    solution_strs: Sequence[Any],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Any] | None,
    batch: bool,
) -> list[Sample]:
    count = len(solution_strs)
    extras = list(extra_infos) if extra_infos is not None else [None] * count
    for name, values in (
        ("data_sources", data_sources),
        ("ground_truths", ground_truths),
        ("extra_infos", extras),
    ):
        if len(values) != count:
            raise InputError(f"has {len(values)} items for {count} solution_strs", field=name)
    samples = []
    for index in range(count):
        try:
            samples.append(
                verl_sample(
                    data_sources[index],
                    solution_strs[index],
                    ground_truths[index],
                    extras[index],
                    fallback_id=f"verl-{index}" if batch else "",
                )
            )
        except InputError as error:
            raise _located(error, index, batch) from None
    return samples


def _engine(reward_kwargs: Mapping[str, Any]) -> tuple[BackgroundEngine, VerlOptions]:
    settings, options = split_kwargs(reward_kwargs)
    return shared_engine(settings), options


async def _single(engine: RewardEngine, sample: Sample, options: VerlOptions) -> dict[str, float]:
    shaping = engine.shaping
    if shaping.normalize != "none":
        raise ConfigError(
            f"normalize={shaping.normalize} needs a prompt's whole group, but verl's reward loop "
            "hands over one sample per call: set normalize=none (GRPO and GDPO already "
            "normalise rewards within each group: algorithm.adv_estimator)"
        )
    (outcome,) = await engine.rewards([sample])
    return _extras(outcome, shaping, options)


async def _batch(
    engine: RewardEngine, samples: list[Sample], options: VerlOptions
) -> list[dict[str, float]]:
    groups = [group_key(s.messages, s.rubric) for s in samples]
    outcomes = await engine.rewards(samples, groups)
    return [_extras(o, engine.shaping, options) for o in outcomes]


def compute_score(
    data_source: Any,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    **reward_kwargs: Any,
) -> dict[str, float]:
    """verl's per-sample reward function (``naive``, ``dapo``, ``gdpo`` managers); any thread.

    All calls with equal settings share one background event loop, judge pool and cache, so
    concurrent calls (the reward loop runs sync functions in executor threads) are batched and
    identical pending judgments are made once.
    """
    sample = verl_sample(data_source, solution_str, ground_truth, extra_info)
    engine, options = _engine(reward_kwargs)
    return engine.call(lambda e: _single(e, sample, options))


async def compute_score_async(
    data_source: Any,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    **reward_kwargs: Any,
) -> dict[str, float]:
    """``compute_score`` awaited on the reward loop's event loop (never blocks it)."""
    sample = verl_sample(data_source, solution_str, ground_truth, extra_info)
    engine, options = _engine(reward_kwargs)
    return await engine.acall(lambda e: _single(e, sample, options))


def compute_score_batch(
    data_sources: Sequence[Any],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Mapping[str, Any] | None] | None = None,
    **reward_kwargs: Any,
) -> list[dict[str, float]]:
    """Legacy (verl < 0.7.1, ``reward_model.reward_manager=batch``): the whole batch at once.

    Group normalization (``normalize``) groups completions of the same conversation and rubric.
    """
    samples = _samples(data_sources, solution_strs, ground_truths, extra_infos, batch=True)
    engine, options = _engine(reward_kwargs)
    return engine.call(lambda e: _batch(e, samples, options))


async def compute_score_batch_async(
    data_sources: Sequence[Any],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Mapping[str, Any] | None] | None = None,
    **reward_kwargs: Any,
) -> list[dict[str, float]]:
    """``compute_score_batch`` for async callers."""
    samples = _samples(data_sources, solution_strs, ground_truths, extra_infos, batch=True)
    engine, options = _engine(reward_kwargs)
    return await engine.acall(lambda e: _batch(e, samples, options))
