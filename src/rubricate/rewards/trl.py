"""TRL ``GRPOTrainer`` reward functions backed by rubricate's judge and scoring core.

::

    from rubricate.rewards.trl import rubric_reward

    reward = rubric_reward(judge_url="http://127.0.0.1:8000/v1", judge_model="grader")
    trainer = GRPOTrainer(model=..., reward_funcs=[reward], train_dataset=dataset, ...)

The dataset carries each prompt's rubric in a column (``rubric`` by default; also found in
``rubrics``, ``reward_model.rubrics`` or ``extra_info``): a list of criteria or its JSON text.
Standard (string) and conversational (message list) prompts and completions both work.
A completion that cannot be scored (every criterion errored) gets ``None``, which TRL
excludes from its statistics.

- ``rubric_reward_async`` returns a plain ``async def`` function, which every TRL release
  recognises as async and awaits on its own event loop.
- ``rubric_axis_rewards`` returns one reward function per axis for TRL's multi-objective
  aggregation (``reward_weights``, ``multi_objective_aggregation``); they share one grading
  per batch.
- Metrics (``log_metric``) have one fixed key set on every process: ``rubricate/ungradable_frac``,
  ``rubricate/criterion_errors`` and, for the configured ``axes``, ``rubricate/axis/NAME`` (a
  rubric without the axis counts as ``axis_fill``) and ``rubricate/has_axis/NAME``.
- ``normalize`` other than ``none`` needs a prompt's whole group, which one process sees only
  when it is the only process: with several it is refused (use TRL's ``scale_rewards``).
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from rubricate.errors import ConfigError, InputError
from rubricate.rewards._engine import RewardEngine, RewardOutcome, shared_engine
from rubricate.rewards._inputs import completion_text, group_key, messages_of, parse_rubric
from rubricate.rewards._settings import load_reward_settings, reward_settings
from rubricate.rewards._shaping import normalize_groups
from rubricate.types import Sample

__all__ = [
    "AxisReward",
    "RubricReward",
    "rubric_axis_rewards",
    "rubric_reward",
    "rubric_reward_async",
    "world_size",
]

_RUBRIC_COLUMNS = ("rubric", "rubrics", "reward_model", "extra_info")
_ID_COLUMNS = ("id", "prompt_id", "sample_id")
_MEMO_BATCHES = 4  # graded batches kept for the sibling per-axis functions of one step


def world_size() -> int:
    """Training processes: ``torch.distributed``'s world when the trainer has set it up, else
    ``WORLD_SIZE`` (torchrun, ``accelerate launch`` and deepspeed set it in every process)."""
    distributed = sys.modules.get("torch.distributed")  # never imported here: only if in use
    if distributed is not None and distributed.is_available() and distributed.is_initialized():
        return int(distributed.get_world_size())
    raw = os.environ.get("WORLD_SIZE", "1")
    try:
        return max(1, int(raw))
    except ValueError:
        raise ConfigError(f"WORLD_SIZE must be a whole number, got {raw!r}") from None


def _refuse_group_options(settings: Mapping[str, Any]) -> None:
    _, shaping = reward_settings(settings)
    processes = world_size()
    if shaping.normalize != "none" and processes > 1:
        raise ConfigError(
            f"normalize={shaping.normalize} needs each prompt's whole group, but with "
            f"{processes} processes TRL hands each one a slice of the groups: set normalize=none "
            "and let GRPO scale within groups (GRPOConfig.scale_rewards='group', its default)"
        )


def _rubric_value(value: Any, column: str) -> tuple[str, Any]:
    """Unwrap verl-shaped columns: {"rubrics": [...]} or {"reward_model": {"rubrics": [...]}}."""
    if isinstance(value, Mapping):
        if value.get("rubrics") is not None:
            return f"{column}.rubrics", value["rubrics"]
        inner = value.get("reward_model")
        if isinstance(inner, Mapping) and inner.get("rubrics") is not None:
            return f"{column}.reward_model.rubrics", inner["rubrics"]
    return column, value


class _Batch:
    """Samples of one reward call and the group key of each."""

    def __init__(self, samples: list[Sample], groups: list[str]) -> None:
        self.samples = samples
        self.groups = groups

    @property
    def digest(self) -> str:
        hasher = hashlib.sha256()
        for sample, group in zip(self.samples, self.groups, strict=True):
            hasher.update(f"{sample.id}\x1f{group}\x1f{sample.response}\x1e".encode())
        return hasher.hexdigest()


async def _score(engine: RewardEngine, batch: _Batch) -> list[RewardOutcome]:
    return await engine.rewards(batch.samples, batch.groups)


class _RubricRewardBase:
    """What the reward functions share (picklable: holds settings only, never an engine)."""

    def __init__(
        self,
        *,
        name: str,
        rubric_column: str | None,
        log_metrics: bool,
        settings: dict[str, Any],
    ) -> None:
        loaded = load_reward_settings(settings)  # fail at construction on a bad setting
        _refuse_group_options(settings)
        self.__name__ = name
        self.rubric_column = rubric_column
        self.log_metrics = log_metrics
        self.axis_fill = loaded.reward.axis_fill
        self.axes = loaded.reward.axes or ()
        self.settings = settings

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.__name__!r})"

    def _column(self, columns: Mapping[str, Any]) -> str:
        if self.rubric_column is not None:
            if self.rubric_column not in columns:
                raise InputError(
                    f"the dataset has no column '{self.rubric_column}' (columns: {', '.join(sorted(columns))})",
                    field=self.rubric_column,
                )
            return self.rubric_column
        for name in _RUBRIC_COLUMNS:
            if name in columns:
                return name
        raise InputError(
            f"no rubric column: add one named {', '.join(_RUBRIC_COLUMNS)} or pass rubric_column=",
            field="rubric",
        )

    def _batch(
        self, prompts: Sequence[Any], completions: Sequence[Any], columns: Mapping[str, Any]
    ) -> _Batch:
        column = self._column(columns)
        rubrics = columns[column]
        ids = next((columns[c] for c in _ID_COLUMNS if c in columns), None)
        if len(prompts) != len(completions) or len(rubrics) != len(completions):
            raise InputError(
                f"got {len(prompts)} prompts, {len(completions)} completions and {len(rubrics)} rubrics",
                field=column,
            )
        samples: list[Sample] = []
        groups: list[str] = []
        for index, (prompt, completion) in enumerate(zip(prompts, completions, strict=True)):
            field, items = _rubric_value(rubrics[index], f"{column}[{index}]")
            messages = messages_of(prompt, f"prompts[{index}]")
            rubric = parse_rubric(items, field, "trl")
            group = group_key(messages, rubric)
            sample_id = str(ids[index]) if ids is not None and ids[index] is not None else group
            response = completion_text(completion, f"completions[{index}]")
            samples.append(Sample(sample_id, messages, rubric, response, {}))
            groups.append(group)
        return _Batch(samples, groups)

    def _log(self, outcomes: Sequence[RewardOutcome], columns: Mapping[str, Any]) -> None:
        log_metric: Callable[[str, float], None] | None = columns.get("log_metric")
        if not self.log_metrics or not callable(log_metric) or not outcomes:
            return
        count = len(outcomes)
        log_metric("rubricate/ungradable_frac", sum(o.ungradable for o in outcomes) / count)
        log_metric("rubricate/criterion_errors", float(sum(o.n_errors for o in outcomes)))
        for axis in self.axes:
            values = [o.result.axes.get(axis) for o in outcomes]
            filled = [self.axis_fill if v is None else v for v in values]
            log_metric(f"rubricate/axis/{axis}", sum(filled) / count)
            log_metric(f"rubricate/has_axis/{axis}", sum(v is not None for v in values) / count)


class RubricReward(_RubricRewardBase):
    """A synchronous TRL reward function: ``(prompts, completions, **columns) -> list[float | None]``."""

    def __call__(
        self, prompts: Sequence[Any], completions: Sequence[Any], **columns: Any
    ) -> list[float | None]:
        batch = self._batch(prompts, completions, columns)
        outcomes = shared_engine(self.settings).call(lambda e: _score(e, batch))
        self._log(outcomes, columns)
        return [o.reward for o in outcomes]


def rubric_reward(
    *,
    name: str = "rubric_reward",
    rubric_column: str | None = None,
    log_metrics: bool = True,
    **settings: Any,
) -> RubricReward:
    """A GRPOTrainer reward function scoring completions against each prompt's rubric.

    Args:
        name: the name TRL logs the reward under (``rewards/<name>/mean``).
        rubric_column: dataset column holding the rubric (default: the first of ``rubric``,
            ``rubrics``, ``reward_model``, ``extra_info`` present).
        log_metrics: log ungradable fraction, criterion errors and the configured axes.
        **settings: judge and reward settings (``judge_url``, ``judge_model``, ``mode``,
            ``cache``, ``clip``, ``normalize``, ``axes``, ``axis_fill`` (the logged value of an
            axis a completion's rubric lacks), ...); unset ones come from the config file and
            ``RUBRICATE_*``.

    Raises:
        ConfigError: a bad setting, or ``normalize`` with more than one training process.
    """
    return RubricReward(
        name=name,
        rubric_column=rubric_column,
        log_metrics=log_metrics,
        settings=settings,
    )


def rubric_reward_async(
    *,
    name: str = "rubric_reward",
    rubric_column: str | None = None,
    log_metrics: bool = True,
    **settings: Any,
) -> Callable[..., Awaitable[list[float | None]]]:
    """``rubric_reward`` as a plain ``async def`` function (same arguments)."""
    base = RubricReward(
        name=name,
        rubric_column=rubric_column,
        log_metrics=log_metrics,
        settings=settings,
    )

    async def reward(
        prompts: Sequence[Any], completions: Sequence[Any], **columns: Any
    ) -> list[float | None]:
        batch = base._batch(prompts, completions, columns)
        outcomes = await shared_engine(base.settings).acall(lambda e: _score(e, batch))
        base._log(outcomes, columns)
        return [o.reward for o in outcomes]

    reward.__name__ = reward.__qualname__ = name
    return reward


class _SharedGrading:
    """The last few graded batches, so sibling per-axis functions grade each batch once."""

    def __init__(self) -> None:
        self.batches: OrderedDict[str, list[RewardOutcome]] = OrderedDict()

    def outcomes(self, settings: dict[str, Any], batch: _Batch) -> list[RewardOutcome]:
        digest = batch.digest
        found = self.batches.get(digest)
        if found is None:
            found = shared_engine(settings).call(lambda e: _score(e, batch))
            self.batches[digest] = found
            while len(self.batches) > _MEMO_BATCHES:
                self.batches.popitem(last=False)
        return found


_GRADINGS: dict[str, _SharedGrading] = {}


class AxisReward(_RubricRewardBase):
    """One axis of a rubric as its own TRL reward function (made by ``rubric_axis_rewards``).

    The reward is the axis score (``None`` when the rubric has no criterion on the axis or
    they all errored, which TRL leaves out of the axis's statistics).
    """

    def __init__(self, *, axis: str, shared: str, **base: Any) -> None:
        super().__init__(**base)
        self.axis = axis
        self.shared = shared  # the sibling functions' shared grading, by id (survives pickling)

    def __call__(
        self, prompts: Sequence[Any], completions: Sequence[Any], **columns: Any
    ) -> list[float | None]:
        batch = self._batch(prompts, completions, columns)
        grading = _GRADINGS.setdefault(self.shared, _SharedGrading())
        fresh = self._batch_is_new(grading, batch)
        outcomes = grading.outcomes(self.settings, batch)
        if fresh:  # the metrics of a batch are logged once, by whichever sibling graded it
            self._log(outcomes, columns)
        _, shaping = reward_settings(self.settings)
        values = [o.result.axes.get(self.axis) for o in outcomes]
        return normalize_groups(values, batch.groups, shaping.normalize)

    @staticmethod
    def _batch_is_new(grading: _SharedGrading, batch: _Batch) -> bool:
        return batch.digest not in grading.batches


def rubric_axis_rewards(
    axes: Sequence[str],
    *,
    prefix: str = "rubric_",
    rubric_column: str | None = None,
    log_metrics: bool = True,
    **settings: Any,
) -> list[AxisReward]:
    """One reward function per axis (named ``<prefix><axis>``), grading each batch once.

    Pass them together as ``reward_funcs`` with ``GRPOConfig(reward_weights=[...])``; TRL
    combines them (``multi_objective_aggregation``). Other arguments as ``rubric_reward``.
    """
    names = [str(a).strip() for a in axes]
    if not names or any(not a for a in names) or len(set(names)) != len(names):
        raise ConfigError(f"axes must be distinct non-empty names, got {list(axes)!r}")
    if settings.get("axes") is not None:
        raise ConfigError("give the axes once, as the first argument of rubric_axis_rewards")
    shared = hashlib.sha256(repr((names, sorted(settings.items()), os.getpid())).encode())
    shared_id = shared.hexdigest()[:16] + f"-{id(names)}"
    return [
        AxisReward(
            axis=axis,
            shared=shared_id,
            name=f"{prefix}{axis}",
            rubric_column=rubric_column,
            log_metrics=log_metrics,
            settings={**settings, "axes": names},
        )
        for axis in names
    ]
