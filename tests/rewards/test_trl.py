"""TRL reward functions called as GRPOTrainer calls them (``_calculate_rewards``): keyword
``prompts``, ``completions``, ``completion_ids``, every dataset column but ``prompt``, plus
``trainer_state``, ``log_extra`` and ``log_metric``; async ones are awaited on TRL's loop."""

from __future__ import annotations

import asyncio
import inspect
import json
import pickle
from pathlib import Path

import pytest

from rubricate.errors import ConfigError, InputError
from rubricate.rewards.trl import (
    RubricReward,
    rubric_axis_rewards,
    rubric_reward,
    rubric_reward_async,
)
from tests.rewards.rows import QUESTION, RESPONSES, RUBRIC, own_axes, own_scores
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
    reward = rubric_reward(axes=["accuracy"], **judge_kwargs)
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
    # TRL <= 1.13 tests the function itself (an object with an async __call__ fails that test).
    assert inspect.iscoroutinefunction(reward)
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


def test_metric_keys_are_the_configured_axes_whatever_the_batch_holds(judge_kwargs: dict) -> None:
    """TRL averages each metric key across processes: every process must log the same keys."""
    reward = rubric_reward(axes=["accuracy", "safety"], **judge_kwargs)
    no_accuracy = [c for c in RUBRIC if c["tags"].get("axis") != "accuracy"]
    keys = []
    for rubric in (RUBRIC, no_accuracy):
        _, metrics = call(reward, [PROMPT_TEXT] * 2, RESPONSES[:2], rubric=[rubric] * 2)
        keys.append(sorted(metrics))
    expected = sorted(
        [
            "rubricate/ungradable_frac",
            "rubricate/criterion_errors",
            "rubricate/axis/accuracy",
            "rubricate/has_axis/accuracy",
            "rubricate/axis/safety",
            "rubricate/has_axis/safety",
        ]
    )
    assert keys == [expected, expected]
    _, metrics = call(reward, [PROMPT_TEXT] * 2, RESPONSES[:2], rubric=[no_accuracy] * 2)
    assert metrics["rubricate/axis/accuracy"] == [0.0]  # axis_fill
    assert metrics["rubricate/has_axis/accuracy"] == [0.0]


def test_axis_fill_is_a_reward_setting_from_keywords_environment_or_file(
    judge_kwargs: dict, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    no_accuracy = [c for c in RUBRIC if c["tags"].get("axis") != "accuracy"]

    def logged_fill(**settings: object) -> float:
        reward = rubric_reward(axes=["accuracy"], **judge_kwargs, **settings)
        _, metrics = call(reward, [PROMPT_TEXT], RESPONSES[:1], rubric=[no_accuracy])
        assert metrics["rubricate/has_axis/accuracy"] == [0.0]
        return metrics["rubricate/axis/accuracy"][0]

    config = tmp_path / "rubricate.toml"
    config.write_text("[reward]\naxis_fill = 0.25\n")
    monkeypatch.setenv("RUBRICATE_CONFIG", str(config))
    assert logged_fill() == 0.25
    monkeypatch.setenv("RUBRICATE_REWARD_AXIS_FILL", "0.5")
    assert logged_fill() == 0.5
    assert logged_fill(axis_fill=0.75) == 0.75
    axis_rewards = rubric_axis_rewards(["accuracy"], axis_fill=1.0, **judge_kwargs)
    assert axis_rewards[0].axis_fill == 1.0
    with pytest.raises(ConfigError, match=r"'reward\.axis_fill' \(argument axis_fill\)"):
        rubric_reward(axis_fill="nan", **judge_kwargs)


def test_normalize_is_refused_with_several_processes(
    judge_kwargs: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match=r"2 processes.*scale_rewards"):
        rubric_reward(normalize="zscore", **judge_kwargs)
    with pytest.raises(ConfigError, match="scale_rewards"):
        rubric_reward_async(normalize="rank", **judge_kwargs)
    rubric_reward(**judge_kwargs)  # normalize=none is fine on any number of processes


def test_per_axis_functions_share_one_grading_per_batch(
    judge_server: JudgeServer, judge_kwargs: dict
) -> None:
    accuracy, completeness = rubric_axis_rewards(["accuracy", "completeness"], **judge_kwargs)
    assert (accuracy.__name__, completeness.__name__) == ("rubric_accuracy", "rubric_completeness")
    columns = {"rubric": [RUBRIC] * 3}
    got_accuracy, metrics = call(accuracy, [PROMPT_TEXT] * 3, RESPONSES[:3], **columns)
    calls_after_first = judge_server.requests
    got_completeness, second_metrics = call(
        completeness, [PROMPT_TEXT] * 3, RESPONSES[:3], **columns
    )
    assert judge_server.requests == calls_after_first == 3 * len(RUBRIC)  # graded once
    assert "rubricate/axis/accuracy" in metrics and second_metrics == {}  # logged once
    whole = call(
        rubric_reward(axes=["accuracy", "completeness"], **judge_kwargs),
        [PROMPT_TEXT] * 3,
        RESPONSES[:3],
        **columns,
    )
    assert whole[0] == pytest.approx(own_scores(judge_server.url, RESPONSES[:3]))
    assert got_accuracy == pytest.approx(own_axes(judge_server.url, RESPONSES[:3], "accuracy"))
    assert got_completeness == pytest.approx(
        own_axes(judge_server.url, RESPONSES[:3], "completeness")
    )
    assert pickle.loads(pickle.dumps(accuracy)).shared == accuracy.shared
    with pytest.raises(ConfigError, match="distinct"):
        rubric_axis_rewards(["a", "a"], **judge_kwargs)
