"""TRL reward functions called as GRPOTrainer calls them (``_calculate_rewards``): keyword
``prompts``, ``completions``, ``completion_ids``, every dataset column but ``prompt``, plus
``trainer_state``, ``log_extra`` and ``log_metric``; async ones are awaited on TRL's loop."""

from __future__ import annotations

import asyncio
import inspect
import json
import pickle

import pytest

from rubricate.errors import ConfigError, InputError
from rubricate.rewards.trl import (
    AsyncRubricReward,
    RubricReward,
    rubric_reward,
    rubric_reward_async,
)
from tests.rewards.rows import QUESTION, RESPONSES, RUBRIC, own_scores
from tests.support.judge_server import JudgeServer

PROMPT_TEXT = QUESTION[0]["content"]


def trl_kwargs(count: int, **columns: object) -> dict[str, object]:
    metrics: dict[str, list[float]] = {}
    return {
        "completion_ids": [[1, 2, 3]] * count,
        "trainer_state": object(),
        "log_extra": lambda column, values: None,
        "log_metric": lambda name, value: metrics.setdefault(name, []).append(value),
        "_metrics": metrics,
        **columns,
    }


def call(
    reward: RubricReward, prompts: list, completions: list, **columns: object
) -> tuple[list, dict]:
    kwargs = trl_kwargs(len(prompts), **columns)
    metrics = kwargs.pop("_metrics")
    return reward(prompts=prompts, completions=completions, **kwargs), metrics  # type: ignore[arg-type]


def test_standard_format_equals_rubricate_grading(
    judge_server: JudgeServer, judge_kwargs: dict
) -> None:
    reward = rubric_reward(**judge_kwargs)
    prompts = [PROMPT_TEXT] * len(RESPONSES)
    got, metrics = call(reward, prompts, RESPONSES, rubric=[RUBRIC] * len(RESPONSES))
    assert got == pytest.approx(own_scores(judge_server.url, RESPONSES))
    assert metrics["rubricate/ungradable_frac"] == [0.0]
    assert "rubricate/axis/accuracy" in metrics


def test_conversational_format_and_json_rubric_column(
    judge_server: JudgeServer, judge_kwargs: dict
) -> None:
    reward = rubric_reward(rubric_column="rubric_json", **judge_kwargs)
    prompts = [QUESTION] * len(RESPONSES)
    completions = [[{"role": "assistant", "content": text}] for text in RESPONSES]
    got, _ = call(reward, prompts, completions, rubric_json=[json.dumps(RUBRIC)] * len(RESPONSES))
    assert got == pytest.approx(own_scores(judge_server.url, RESPONSES))


def test_verl_shaped_columns_are_found(judge_server: JudgeServer, judge_kwargs: dict) -> None:
    reward = rubric_reward(**judge_kwargs)
    column = [{"style": "rubric", "rubrics": RUBRIC, "ground_truth": ""}] * 2
    got, _ = call(reward, [PROMPT_TEXT] * 2, RESPONSES[:2], reward_model=column)
    assert got == pytest.approx(own_scores(judge_server.url, RESPONSES[:2]))


def test_async_form_is_a_coroutine_function_and_agrees(judge_kwargs: dict) -> None:
    reward = rubric_reward_async(name="rubric_async", **judge_kwargs)
    assert isinstance(reward, AsyncRubricReward) and inspect.iscoroutinefunction(reward.__call__)
    assert reward.__name__ == "rubric_async"
    kwargs = trl_kwargs(len(RESPONSES), rubric=[RUBRIC] * len(RESPONSES))
    kwargs.pop("_metrics")

    async def on_trl_loop() -> list[float | None]:  # TRL gathers async rewards on its own loop
        (result,) = await asyncio.gather(
            reward(prompts=[PROMPT_TEXT] * len(RESPONSES), completions=RESPONSES, **kwargs)
        )
        return result

    got = asyncio.run(on_trl_loop())
    sync, _ = call(
        rubric_reward(**judge_kwargs),
        [PROMPT_TEXT] * len(RESPONSES),
        RESPONSES,
        rubric=[RUBRIC] * len(RESPONSES),
    )
    assert got == sync


def test_unscorable_completions_are_none() -> None:
    with JudgeServer(fault_rate=1.0, faults=("500",)) as server:
        reward = rubric_reward(
            judge_url=server.url, judge_model="stub", no_cache=True, max_retries=0
        )
        got, metrics = call(reward, [PROMPT_TEXT] * 2, RESPONSES[:2], rubric=[RUBRIC] * 2)
    assert got == [None, None]
    assert metrics["rubricate/ungradable_frac"] == [1.0]


def test_rank_normalization_groups_by_prompt(judge_kwargs: dict) -> None:
    reward = rubric_reward(normalize="rank", **judge_kwargs)
    prompts = [PROMPT_TEXT] * 3 + ["What is 3 + 3?"] * 3
    got, _ = call(reward, prompts, RESPONSES, rubric=[RUBRIC] * 6)
    for group in (got[:3], got[3:]):
        assert all(0.0 <= value <= 1.0 for value in group)
        assert sum(group) == pytest.approx(1.5)  # ranks 0, 0.5, 1 (ties share the average)


def test_errors_name_the_column_and_settings_fail_early(judge_kwargs: dict) -> None:
    reward = rubric_reward(**judge_kwargs)
    with pytest.raises(InputError, match="rubric"):
        call(reward, [PROMPT_TEXT], RESPONSES[:1], answer=["4"])
    with pytest.raises(InputError, match=r"rubric\[0\]"):
        call(reward, [PROMPT_TEXT], RESPONSES[:1], rubric=["not json"])
    with pytest.raises(ConfigError, match="unknown reward setting"):
        rubric_reward(judge_modle="x")


def test_reward_function_pickles_without_its_engine(judge_kwargs: dict) -> None:
    reward = rubric_reward(**judge_kwargs)
    call(reward, [PROMPT_TEXT], RESPONSES[:1], rubric=[RUBRIC])
    copy = pickle.loads(pickle.dumps(reward))
    assert copy.__name__ == reward.__name__ and copy.settings == reward.settings
