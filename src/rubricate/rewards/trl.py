"""TRL ``GRPOTrainer`` reward functions backed by rubricate's judge and scoring core.

::

    from rubricate.rewards.trl import rubric_reward

    reward = rubric_reward(judge_url="http://127.0.0.1:8000/v1", judge_model="grader")
    trainer = GRPOTrainer(model=..., reward_funcs=[reward], train_dataset=dataset, ...)

The dataset carries each prompt's rubric in a column (``rubric`` by default; also found in
``rubrics``, ``reward_model.rubrics`` or ``extra_info``): a list of criteria or its JSON text.
Standard (string) and conversational (message list) prompts and completions both work.
A completion that cannot be scored (every criterion errored) gets ``None``, which TRL
excludes from its statistics. ``rubric_reward_async`` returns the ``async def`` form, which
TRL runs on its own event loop alongside other async reward functions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rubricate.errors import InputError
from rubricate.rewards._engine import RewardEngine, RewardOutcome, shared_engine
from rubricate.rewards._inputs import completion_text, group_key, messages_of, parse_rubric
from rubricate.rewards._settings import reward_settings
from rubricate.types import Sample

__all__ = ["AsyncRubricReward", "RubricReward", "rubric_reward", "rubric_reward_async"]

_RUBRIC_COLUMNS = ("rubric", "rubrics", "reward_model", "extra_info")
_ID_COLUMNS = ("id", "prompt_id", "sample_id")


def _rubric_value(value: Any, column: str) -> tuple[str, Any]:
    """Unwrap verl-shaped columns: {"rubrics": [...]} or {"reward_model": {"rubrics": [...]}}."""
    if isinstance(value, Mapping):
        if value.get("rubrics") is not None:
            return f"{column}.rubrics", value["rubrics"]
        inner = value.get("reward_model")
        if isinstance(inner, Mapping) and inner.get("rubrics") is not None:
            return f"{column}.reward_model.rubrics", inner["rubrics"]
    return column, value


class _RubricRewardBase:
    """Shared parts of the sync and async reward functions (picklable: holds settings only)."""

    def __init__(
        self, *, name: str, rubric_column: str | None, log_metrics: bool, settings: dict[str, Any]
    ) -> None:
        reward_settings(settings)  # fail at construction on a bad setting, not at step 1
        self.__name__ = name
        self.rubric_column = rubric_column
        self.log_metrics = log_metrics
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

    def _samples(
        self, prompts: Sequence[Any], completions: Sequence[Any], columns: Mapping[str, Any]
    ) -> tuple[list[Sample], list[str]]:
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
        return samples, groups

    def _finish(
        self, outcomes: list[RewardOutcome], columns: Mapping[str, Any]
    ) -> list[float | None]:
        log_metric: Callable[[str, float], None] | None = columns.get("log_metric")
        if self.log_metrics and callable(log_metric) and outcomes:
            count = len(outcomes)
            log_metric("rubricate/ungradable_frac", sum(o.ungradable for o in outcomes) / count)
            log_metric("rubricate/criterion_errors", float(sum(o.n_errors for o in outcomes)))
            axes: dict[str, list[float]] = {}
            for outcome in outcomes:
                for axis, value in outcome.result.axes.items():
                    if value is not None:
                        axes.setdefault(axis, []).append(value)
            for axis, values in axes.items():
                log_metric(f"rubricate/axis/{axis}", sum(values) / len(values))
        return [o.reward for o in outcomes]


async def _score(
    engine: RewardEngine, samples: list[Sample], groups: list[str]
) -> list[RewardOutcome]:
    return await engine.rewards(samples, groups)


class RubricReward(_RubricRewardBase):
    """A synchronous TRL reward function: ``(prompts, completions, **columns) -> list[float | None]``."""

    def __call__(
        self, prompts: Sequence[Any], completions: Sequence[Any], **columns: Any
    ) -> list[float | None]:
        samples, groups = self._samples(prompts, completions, columns)
        outcomes = shared_engine(self.settings).call(lambda e: _score(e, samples, groups))
        return self._finish(outcomes, columns)


class AsyncRubricReward(_RubricRewardBase):
    """The ``async def`` form of ``RubricReward``."""

    async def __call__(
        self, prompts: Sequence[Any], completions: Sequence[Any], **columns: Any
    ) -> list[float | None]:
        samples, groups = self._samples(prompts, completions, columns)
        outcomes = await shared_engine(self.settings).acall(lambda e: _score(e, samples, groups))
        return self._finish(outcomes, columns)


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
        log_metrics: log ungradable fraction, criterion errors and per-axis means through TRL.
        **settings: judge and shaping settings (``judge_url``, ``judge_model``, ``mode``,
            ``cache``, ``clip``, ``normalize``, ``soft``, ...); unset ones come from ``RUBRICATE_*``.
    """
    return RubricReward(
        name=name, rubric_column=rubric_column, log_metrics=log_metrics, settings=settings
    )


def rubric_reward_async(
    *,
    name: str = "rubric_reward",
    rubric_column: str | None = None,
    log_metrics: bool = True,
    **settings: Any,
) -> AsyncRubricReward:
    """The ``async def`` form of ``rubric_reward`` (same arguments)."""
    return AsyncRubricReward(
        name=name, rubric_column=rubric_column, log_metrics=log_metrics, settings=settings
    )
