"""verl reward functions backed by rubricate's judge and scoring core.

Point verl's ``custom_reward_function`` at this file (or a one-line file importing from it)::

    custom_reward_function:
      path: /path/to/site-packages/rubricate/rewards/verl.py
      name: compute_score            # NaiveRewardManager (one call per sample)
      # name: compute_score_batch    # reward_model.reward_manager=batch (whole batch at once)
      reward_kwargs:
        judge_url: http://127.0.0.1:8000/v1
        judge_model: grader
        mode: per-criterion
        cache: /data/rubricate.sqlite

Every key may instead come from ``RUBRICATE_*`` environment variables (``RUBRICATE_JUDGE_URL``,
``RUBRICATE_JUDGE_MODEL``, ``RUBRICATE_MODE``, ``RUBRICATE_CACHE``, ``RUBRICATE_REWARD_NORMALIZE``...).
The rubric is read from ``extra_info.reward_model.rubrics`` (RuscaRL rows), ``extra_info.rubrics``
or ``ground_truth``; the conversation from ``extra_info.prompt``.

Each call returns ``{"score": reward, ...extras}`` with the same keys for every sample (verl
stacks them into arrays): ``rubric_score`` (the unshaped score), ``ungradable`` (1.0 when all
criteria errored and ``score`` is the configured ``fallback``), ``n_criteria``, ``n_errors``,
``gate_failed`` and ``axis/NAME`` for the axes named by ``axes`` (in the batch form, by default
every axis in the batch; NaN where a rubric lacks it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rubricate.errors import ConfigError, InputError
from rubricate.rewards._engine import RewardEngine, RewardOutcome, shared_engine
from rubricate.rewards._inputs import group_key, verl_sample
from rubricate.rewards._shaping import Shaping
from rubricate.types import Sample

__all__ = [
    "compute_score",
    "compute_score_async",
    "compute_score_batch",
    "compute_score_batch_async",
]


def _extras(outcome: RewardOutcome, shaping: Shaping, axes: Sequence[str]) -> dict[str, float]:
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
    for axis in axes:
        value = result.axes.get(axis)
        extras[f"axis/{axis}"] = float("nan") if value is None else float(value)
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


def _batch_axes(shaping: Shaping, outcomes: Sequence[RewardOutcome]) -> tuple[str, ...]:
    if shaping.axes is not None:
        return shaping.axes
    return tuple(dict.fromkeys(a for o in outcomes for a in o.result.axes))


async def _single(engine: RewardEngine, sample: Sample) -> dict[str, float]:
    shaping = engine.shaping
    if shaping.normalize != "none":
        raise ConfigError(
            "group normalization needs the whole group: use compute_score_batch "
            "(reward_model.reward_manager=batch) or set normalize=none"
        )
    (outcome,) = await engine.rewards([sample])
    return _extras(outcome, shaping, shaping.axes or ())


async def _batch(engine: RewardEngine, samples: list[Sample]) -> list[dict[str, float]]:
    groups = [group_key(s.messages, s.rubric) for s in samples]
    outcomes = await engine.rewards(samples, groups)
    axes = _batch_axes(engine.shaping, outcomes)
    return [_extras(o, engine.shaping, axes) for o in outcomes]


def compute_score(
    data_source: Any,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    **reward_kwargs: Any,
) -> dict[str, float]:
    """verl's per-sample reward function (NaiveRewardManager); safe from any thread.

    All calls with equal settings share one background event loop, judge pool and cache, so
    concurrent calls (verl's reward loop runs them in executor threads) are batched and
    identical pending judgments are made once.
    """
    sample = verl_sample(data_source, solution_str, ground_truth, extra_info)
    return shared_engine(reward_kwargs).call(lambda engine: _single(engine, sample))


async def compute_score_async(
    data_source: Any,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    **reward_kwargs: Any,
) -> dict[str, float]:
    """``compute_score`` for verl's async reward loop; never blocks the caller's loop."""
    sample = verl_sample(data_source, solution_str, ground_truth, extra_info)
    return await shared_engine(reward_kwargs).acall(lambda engine: _single(engine, sample))


def compute_score_batch(
    data_sources: Sequence[Any],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Mapping[str, Any] | None] | None = None,
    **reward_kwargs: Any,
) -> list[dict[str, float]]:
    """verl's batch reward function (BatchRewardManager): grades the whole batch concurrently.

    Group normalization (``normalize``) groups completions of the same conversation and rubric.
    """
    samples = _samples(data_sources, solution_strs, ground_truths, extra_infos, batch=True)
    return shared_engine(reward_kwargs).call(lambda engine: _batch(engine, samples))


async def compute_score_batch_async(
    data_sources: Sequence[Any],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Mapping[str, Any] | None] | None = None,
    **reward_kwargs: Any,
) -> list[dict[str, float]]:
    """``compute_score_batch`` for async callers."""
    samples = _samples(data_sources, solution_strs, ground_truths, extra_infos, batch=True)
    return await shared_engine(reward_kwargs).acall(lambda engine: _batch(engine, samples))
