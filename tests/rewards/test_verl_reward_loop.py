"""verl 0.9.1's reward loop, run for real on the CPU with the README's Hydra overrides.

The config is verl's own generated ``ppo_trainer.yaml`` with the README's ``reward.*``
overrides applied under Hydra's rules (a plain override must name an existing key, ``+`` a new
one). ``RewardLoopWorker`` (what each of the ``reward.num_workers`` Ray actors runs) loads the
reward manager with ``load_reward_manager`` and scores each item through the manager's
``run_single``; the batch is then assembled as ``RewardLoopManager.compute_rm_score`` does
(``assemble_rm_scores``, extras stacked into arrays under the first item's keys).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("verl.experimental.reward_loop")

import numpy as np
import torch
import verl
import yaml
from omegaconf import DictConfig, OmegaConf
from verl import DataProto
from verl.experimental import reward_loop
from verl.trainer.ppo.core_algos import compute_gdpo_outcome_advantage

import rubricate.rewards.verl as rubricate_verl
from tests.rewards.readme import code_blocks, command_words
from tests.rewards.rows import QUESTION, RESPONSES, own_scores, ruscarl_row
from tests.rewards.tiny_models import tiny_tokenizer
from tests.support.judge_server import JudgeServer

README_JUDGE_URL = "http://127.0.0.1:8000/v1"
_ABSENT = object()


def readme_overrides() -> list[str]:
    """The ``reward.*`` overrides of the README's verl command."""
    (command,) = [b for b in code_blocks("Rubrics as rewards", "bash") if "verl.trainer" in b]
    words = command_words(command)
    assert words[:3] == ["python3", "-m", "verl.trainer.main_ppo"]
    return words[3:]


def apply_override(config: DictConfig, override: str) -> None:
    """One Hydra command-line override, with Hydra's checks and value parsing."""
    key, _, value = override.partition("=")
    append = key.startswith("+")
    key = key.removeprefix("+")
    exists = OmegaConf.select(config, key, default=_ABSENT) is not _ABSENT
    if append and exists:
        raise AssertionError(f"Hydra refuses '+{key}': the key already exists")
    if not append and not exists:
        raise AssertionError(f"Hydra refuses '{key}': no such key (prefix it with '+')")
    OmegaConf.update(config, key, yaml.safe_load(value), force_add=True)


def verl_config(tmp_path: Path, judge_url: str | None, **kwargs: Any) -> DictConfig:
    """verl's default PPO config with the README's reward overrides, pointed at this test."""
    tokenizer_dir = tmp_path / "tokenizer"
    tiny_tokenizer().save_pretrained(str(tokenizer_dir))
    defaults = Path(verl.__file__).parent / "trainer" / "config" / "_generated_ppo_trainer.yaml"
    config = OmegaConf.load(defaults)
    assert isinstance(config, DictConfig)
    for override in readme_overrides():
        if override.startswith("reward.custom_reward_function.path="):
            assert "import rubricate.rewards.verl as m; print(m.__file__)" in override
            override = f"reward.custom_reward_function.path={rubricate_verl.__file__}"
        if override.startswith("+reward.custom_reward_function.reward_kwargs.judge_url="):
            assert override.endswith(README_JUDGE_URL)
            if judge_url is None:
                continue
            override = override.replace(README_JUDGE_URL, judge_url)
        if override.startswith("+reward.custom_reward_function.reward_kwargs.cache="):
            override = f"+reward.custom_reward_function.reward_kwargs.cache={tmp_path / 'c.sqlite'}"
        apply_override(config, override)
    for key, value in kwargs.items():
        apply_override(config, f"{key}={value}")
    OmegaConf.update(config, "actor_rollout_ref.model.tokenizer_path", str(tokenizer_dir))
    config = reward_loop.migrate_legacy_reward_impl(config)
    OmegaConf.update(config, "reward.custom_reward_function.reward_kwargs.judge_model", "stub")
    return config


def rollout_batch(responses: list[str]) -> tuple[DataProto, list[str]]:
    """A rollout batch as the agent loop hands it over, and the texts verl will decode."""
    tokenizer = tiny_tokenizer()
    pad = tokenizer.pad_token_id
    prompt_ids = tokenizer(QUESTION[0]["content"], add_special_tokens=False)["input_ids"]
    encoded = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in responses]
    width = max(len(ids) for ids in encoded) + 2
    prompts, answers, masks = [], [], []
    for ids in encoded:
        prompts.append([pad, pad, *prompt_ids])
        answers.append(ids + [pad] * (width - len(ids)))
        masks.append([0, 0] + [1] * len(prompt_ids) + [1] * len(ids) + [0] * (width - len(ids)))
    row = ruscarl_row()
    count = len(responses)
    batch = DataProto.from_dict(
        tensors={
            "prompts": torch.tensor(prompts),
            "responses": torch.tensor(answers),
            "attention_mask": torch.tensor(masks),
        },
        non_tensors={
            "data_source": np.array([row["data_source"]] * count, dtype=object),
            "reward_model": np.array([row["reward_model"]] * count, dtype=object),
            "extra_info": np.array([dict(row["extra_info"]) for _ in range(count)], dtype=object),
            "uid": np.array(["q0"] * count, dtype=object),
        },
    )
    decoded = [tokenizer.decode(ids, skip_special_tokens=True) for ids in encoded]
    return batch, decoded


async def run_reward_loop(
    config: DictConfig, batch: DataProto, router: str | None = None
) -> tuple[torch.Tensor, dict[str, np.ndarray]]:
    """One ``RewardLoopWorker`` over the batch, assembled as ``RewardLoopManager`` does."""
    worker = reward_loop.RewardLoopWorker(config, reward_router_address=router)
    outputs = await worker.compute_score_batch(batch)
    manager_cls = type(worker.reward_manager)
    rm_scores = manager_cls.assemble_rm_scores(batch, [o["reward_score"] for o in outputs])
    infos = [o.get("reward_extra_info", {}) for o in outputs]
    keys = list(infos[0])
    return rm_scores, {key: np.array([info[key] for info in infos]) for key in keys}


def final_rewards(rm_scores: torch.Tensor, batch: DataProto) -> list[float]:
    prompt_length = batch.batch["prompts"].size(1)
    lengths = batch.batch["attention_mask"][:, prompt_length:].sum(dim=1)
    return [float(rm_scores[i, int(n) - 1]) for i, n in enumerate(lengths)]


def test_readme_overrides_run_verls_reward_loop_and_equal_rubricate_scores(
    tmp_path: Path, judge_server: JudgeServer
) -> None:
    config = verl_config(tmp_path, judge_server.url)
    assert config.reward.reward_manager.name == "naive"
    assert config.reward.custom_reward_function.name == "compute_score_async"
    batch, texts = rollout_batch(RESPONSES)
    rm_scores, extras = asyncio.run(run_reward_loop(config, batch))
    expected = own_scores(judge_server.url, texts)
    assert final_rewards(rm_scores, batch) == pytest.approx(expected, abs=1e-6)
    assert list(extras) == rubricate_verl.extra_keys(["accuracy", "completeness"])
    for key, values in extras.items():  # gdpo reads every extra as a float array
        assert np.isfinite(np.asarray(values, dtype=np.float32)).all(), key
    assert extras["rubric_score"].tolist() == pytest.approx(expected, abs=1e-6)


def test_gdpo_manager_and_advantage_take_the_per_axis_keys(
    tmp_path: Path, judge_server: JudgeServer
) -> None:
    """A rubric without an axis still gives finite, stackable values (NaN would poison GDPO)."""
    config = verl_config(
        tmp_path,
        judge_server.url,
        **{
            "reward.reward_manager.name": "gdpo",
            "reward.custom_reward_function.reward_kwargs.axes": "[accuracy,safety]",
        },
    )
    batch, _ = rollout_batch(RESPONSES)
    rm_scores, extras = asyncio.run(run_reward_loop(config, batch))
    assert extras["has_axis/safety"].tolist() == [0.0] * len(RESPONSES)
    keys = ["axis/accuracy", "axis/safety"]
    prompt_length = batch.batch["prompts"].size(1)
    response_mask = batch.batch["attention_mask"][:, prompt_length:].float()
    advantages, _ = compute_gdpo_outcome_advantage(
        token_level_rewards=rm_scores,
        response_mask=response_mask,
        index=batch.non_tensor_batch["uid"],
        config=OmegaConf.create({"gdpo_reward_keys": keys}),
        non_tensor_batch=extras,
        batch=batch.batch,
    )
    assert torch.isfinite(advantages).all()
    assert advantages.abs().sum() > 0  # the accuracy axis separates the responses


def test_router_address_is_the_judge_when_verl_hosts_it(
    tmp_path: Path, judge_server: JudgeServer
) -> None:
    config = verl_config(tmp_path, judge_url=None)
    assert "judge_url" not in config.reward.custom_reward_function.reward_kwargs
    batch, texts = rollout_batch(RESPONSES[:2])
    address = judge_server.url.removeprefix("http://").removesuffix("/v1")
    rm_scores, _ = asyncio.run(run_reward_loop(config, batch, router=address))
    assert final_rewards(rm_scores, batch) == pytest.approx(
        own_scores(judge_server.url, texts), abs=1e-6
    )
    assert judge_server.requests > 0


def test_the_legacy_batch_manager_is_gone_from_the_reward_loop() -> None:
    """What the README used to recommend (``reward_manager: batch``) raises in verl 0.9.1."""
    registry = pytest.importorskip("verl.experimental.reward_loop.reward_manager")
    with pytest.raises(ValueError, match="Unknown reward manager: batch"):
        registry.get_reward_manager_cls("batch")
