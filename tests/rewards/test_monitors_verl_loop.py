"""The monitors and rubric dropout in verl 0.9.1's own reward loop (``RewardLoopWorker``) with the
GDPO manager: a fixed key set of finite floats that GDPO's advantage accepts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from verl.trainer.ppo.core_algos import compute_gdpo_outcome_advantage

from rubricate.rewards import verl as rubricate_verl
from tests.rewards.rows import RESPONSES
from tests.rewards.test_verl_reward_loop import (
    rollout_batch,
    run_reward_loop,
    verl_config,
)
from tests.support.judge_server import JudgeServer

KWARGS = "reward.custom_reward_function.reward_kwargs"


def test_gold_monitor_and_dropout_in_verls_reward_loop(
    tmp_path: Path, judge_server: JudgeServer
) -> None:
    # a gold judge that finds nothing met: every monitored sample's gold reward is 0
    with JudgeServer(decide=lambda cid, text, message: "not_met") as gold:
        config = verl_config(
            tmp_path,
            judge_server.url,
            **{
                "reward.reward_manager.name": "gdpo",
                f"+{KWARGS}.gold_judge_url": gold.url,
                f"+{KWARGS}.gold_judge_model": "gold",
                f"+{KWARGS}.monitor_fraction": 0.5,
                f"+{KWARGS}.seed": 5,
                f"+{KWARGS}.dropout": 0.4,
            },
        )
        batch, _ = rollout_batch(RESPONSES)
        rm_scores, extras = asyncio.run(run_reward_loop(config, batch))
        gold_calls = gold.requests
    assert list(extras) == rubricate_verl.extra_keys(["accuracy", "completeness"])
    for key, values in extras.items():  # gdpo reads every extra as a float array
        assert np.isfinite(np.asarray(values, dtype=np.float32)).all(), key
    chosen = extras["monitor/gold_monitored"].tolist()
    assert 0 < sum(chosen) < len(RESPONSES)
    assert gold_calls == 5 * sum(chosen)  # the gold judge sees the whole rubric
    counts = extras["n_criteria"].tolist()
    assert min(counts) >= 1 and sum(counts) < 5 * len(RESPONSES)  # dropout left some out
    for index, flag in enumerate(chosen):
        if flag:
            assert extras["monitor/gold_score"][index] == 0.0
            assert extras["monitor/gold_diff"][index] == pytest.approx(
                extras["rubric_score"][index]
            )
        else:
            assert extras["monitor/gold_diff"][index] == 0.0
    keys = ["axis/accuracy", "monitor/gold_diff"]
    prompt_length = batch.batch["prompts"].size(1)
    advantages, _ = compute_gdpo_outcome_advantage(
        token_level_rewards=rm_scores,
        response_mask=batch.batch["attention_mask"][:, prompt_length:].float(),
        index=batch.non_tensor_batch["uid"],
        config=OmegaConf.create({"gdpo_reward_keys": keys}),
        non_tensor_batch=extras,
        batch=batch.batch,
    )
    assert torch.isfinite(advantages).all()
