"""Legacy (verl < 0.7.1): verl's old ``verl.workers.reward_manager`` classes, run on the CPU.

verl 0.9.1 still ships these classes but its trainer never loads them (rewards run only in the
reward loop: ``test_verl_reward_loop.py``); they stay for users of the older releases.

Skipped unless verl imports (it needs ``torch``, ``ray`` and ``tensordict``; see the README's
test notes for the ``--no-deps`` install that works next to TRL's transformers).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("verl.workers.reward_manager")

import numpy as np
import torch
from omegaconf import OmegaConf
from verl import DataProto
from verl.trainer.ppo.reward import get_custom_reward_fn
from verl.workers.reward_manager.batch import BatchRewardManager
from verl.workers.reward_manager.naive import NaiveRewardManager

import rubricate.rewards.verl as rubricate_verl
from tests.rewards.rows import QUESTION, RESPONSES, own_scores, ruscarl_row
from tests.support.judge_server import JudgeServer

PAD = 0


class CharTokenizer:
    """Just what the managers use: ``decode(ids, skip_special_tokens=True)``."""

    def encode(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def decode(self, ids: torch.Tensor, skip_special_tokens: bool = True) -> str:
        return "".join(chr(int(i)) for i in ids if int(i) != PAD)


def make_batch(responses: list[str]) -> DataProto:
    """A rollout batch as verl holds it: left-padded prompts, right-padded responses."""
    tokenizer = CharTokenizer()
    prompt_ids = tokenizer.encode(QUESTION[0]["content"])
    width = max(len(r) for r in responses) + 2
    prompts, answers, masks = [], [], []
    for text in responses:
        ids = tokenizer.encode(text)
        prompts.append([PAD, PAD, *prompt_ids])
        answers.append(ids + [PAD] * (width - len(ids)))
        masks.append([0, 0] + [1] * len(prompt_ids) + [1] * len(ids) + [0] * (width - len(ids)))
    row = ruscarl_row()
    count = len(responses)
    return DataProto.from_dict(
        tensors={
            "prompts": torch.tensor(prompts),
            "responses": torch.tensor(answers),
            "attention_mask": torch.tensor(masks),
        },
        non_tensors={
            "data_source": np.array([row["data_source"]] * count, dtype=object),
            "reward_model": np.array([row["reward_model"]] * count, dtype=object),
            "extra_info": np.array([dict(row["extra_info"]) for _ in range(count)], dtype=object),
        },
    )


def loaded(name: str, url: str) -> object:
    """The reward function exactly as verl loads it from ``custom_reward_function``."""
    section = {
        "path": str(Path(rubricate_verl.__file__)),
        "name": name,
        "reward_kwargs": {
            "judge_url": url,
            "judge_model": "stub",
            "no_cache": True,
            "axes": ["accuracy"],
        },
    }
    # verl has kept this section at the top level and, lately, under ``reward``.
    config = OmegaConf.create(
        {"custom_reward_function": section, "reward": {"custom_reward_function": section}}
    )
    return get_custom_reward_fn(config)


def final_rewards(output: dict, responses: list[str]) -> list[float]:
    tensor = output["reward_tensor"]
    return [float(tensor[i, len(text) - 1]) for i, text in enumerate(responses)]


def test_naive_reward_manager(judge_server: JudgeServer) -> None:
    manager = NaiveRewardManager(
        tokenizer=CharTokenizer(),
        num_examine=0,
        compute_score=loaded("compute_score", judge_server.url),
    )
    output = manager(make_batch(RESPONSES), return_dict=True)
    expected = own_scores(judge_server.url, RESPONSES)
    assert final_rewards(output, RESPONSES) == pytest.approx(expected, abs=1e-6)
    extra = output["reward_extra_info"]
    assert all(len(values) == len(RESPONSES) for values in extra.values())
    assert extra["ungradable"] == [0.0] * len(RESPONSES)
    assert "axis/accuracy" in extra


def test_batch_reward_manager(judge_server: JudgeServer) -> None:
    manager = BatchRewardManager(
        tokenizer=CharTokenizer(),
        num_examine=0,
        compute_score=loaded("compute_score_batch", judge_server.url),
    )
    batch = make_batch(RESPONSES)
    output = manager(batch, return_dict=True)
    expected = own_scores(judge_server.url, RESPONSES)
    assert final_rewards(output, RESPONSES) == pytest.approx(expected, abs=1e-6)
    assert batch.batch["acc"].tolist() == pytest.approx(expected, abs=1e-6)
    assert {len(v) for v in output["reward_extra_info"].values()} == {len(RESPONSES)}
