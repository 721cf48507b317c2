"""Real ``GRPOTrainer`` steps on the CPU with a tiny random model and a rubricate reward function.

Offline: the model is a randomly initialised one-layer Llama and the tokenizer a byte-level BPE
trained here. The rewards TRL logs must equal rubricate's own scores for the completions it
generated (graded again through ``rubricate.grade`` against the same loopback judge).
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("trl")

from datasets import Dataset
from transformers import TrainerCallback
from trl import GRPOConfig, GRPOTrainer

from rubricate.rewards.trl import rubric_reward, rubric_reward_async
from tests.rewards.rows import RUBRIC, own_scores_for
from tests.rewards.tiny_models import tiny_model, tiny_tokenizer
from tests.support.judge_server import JudgeServer

QUESTIONS = ["What is 2 + 2?", "Name a prime number.", "Is water wet?", "Say hello."]


class Snapshots(TrainerCallback):
    """What the trainer logged at each logging step: its completions and their rewards."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.trainer: GRPOTrainer | None = None
        self.steps: list[dict[str, Any]] = []

    def on_log(
        self,
        args: Any,
        state: Any,
        control: Any,
        logs: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        key = f"rewards/{self.name}/mean"
        if self.trainer is None or not logs or key not in logs:
            return
        records = self.trainer._logs
        self.steps.append(
            {
                "mean": logs[key],
                "prompts": list(records["prompt"]),
                "completions": list(records["completion"]),
                "rewards": list(records["rewards"][self.name]),
            }
        )


def completion_text(completion: Any) -> str:
    return completion if isinstance(completion, str) else "".join(m["content"] for m in completion)


@pytest.mark.parametrize("conversational", [False, True], ids=["standard", "conversational"])
def test_grpo_logged_rewards_equal_rubricate_scores(tmp_path, conversational: bool) -> None:
    tokenizer = tiny_tokenizer()
    prompts = [[{"role": "user", "content": q}] for q in QUESTIONS] if conversational else QUESTIONS
    dataset = Dataset.from_dict({"prompt": prompts, "rubric": [RUBRIC] * len(QUESTIONS)})
    name = "rubric_reward"
    with JudgeServer() as server:
        settings = {
            "judge_url": server.url,
            "judge_model": "stub",
            "cache": str(tmp_path / "cache.sqlite"),
        }
        reward = rubric_reward_async(**settings) if conversational else rubric_reward(**settings)
        snapshots = Snapshots(name)
        args = GRPOConfig(
            output_dir=str(tmp_path / "out"),
            use_cpu=True,
            bf16=False,
            per_device_train_batch_size=4,
            num_generations=4,
            max_completion_length=8,
            max_steps=2,
            logging_steps=1,
            report_to=[],
            save_strategy="no",
            seed=0,
        )
        trainer = GRPOTrainer(
            model=tiny_model(tokenizer),
            reward_funcs=[reward],
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
            callbacks=[snapshots],
        )
        snapshots.trainer = trainer
        trainer.train()
        assert len(snapshots.steps) == 2
        for step in snapshots.steps:
            texts = [completion_text(c) for c in step["completions"]]
            expected = own_scores_for(server.url, step["prompts"], texts)
            assert step["rewards"] == pytest.approx(expected, abs=1e-6)
            assert step["mean"] == pytest.approx(sum(expected) / len(expected), abs=1e-5)
