"""One rank of a two-process GRPOTrainer run on the CPU (gloo); launched by ``torch.distributed.run``.

Writes ``rank<N>.json`` into ``argv[1]``: the metric names this rank's reward function logged
at each call, what the trainer gathered and logged (rank 0), and whether ``normalize`` was refused.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from datasets import Dataset
from transformers import TrainerCallback
from trl import GRPOConfig, GRPOTrainer

from rubricate.errors import ConfigError
from rubricate.rewards.trl import rubric_reward
from tests.rewards.rows import NO_ACCURACY, RUBRIC
from tests.rewards.tiny_models import tiny_model, tiny_tokenizer

QUESTIONS = ["What is 2 + 2?", "Name a prime number.", "Is water wet?", "Say hello."]
NAME = "rubric_reward"


class Gathered(TrainerCallback):
    """What the trainer gathered from both processes at each logging step."""

    def __init__(self) -> None:
        self.trainer: GRPOTrainer | None = None
        self.steps: list[dict[str, Any]] = []

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        if self.trainer is None or not logs or f"rewards/{NAME}/mean" not in logs:
            return
        records = self.trainer._logs
        self.steps.append(
            {
                "logs": {k: v for k, v in logs.items() if isinstance(v, (int, float))},
                "prompts": list(records["prompt"]),
                "completions": list(records["completion"]),
                "rewards": list(records["rewards"][NAME]),
            }
        )


def main() -> None:
    out = Path(sys.argv[1])
    rank = int(os.environ["RANK"])
    settings = {
        "judge_url": os.environ["JUDGE_URL"],
        "judge_model": "stub",
        "no_cache": True,
        "axes": ["accuracy", "safety"],
    }
    try:
        rubric_reward(normalize="zscore", **settings)
        refused = ""
    except ConfigError as error:
        refused = str(error)
    reward = rubric_reward(**settings)
    logged: list[list[str]] = []

    def recording_reward(prompts: Any, completions: Any, **columns: Any) -> Any:
        names: list[str] = []
        log_metric = columns["log_metric"]

        def log(name: str, value: float) -> None:
            names.append(name)
            log_metric(name, value)

        result = reward(prompts, completions, **{**columns, "log_metric": log})
        logged.append(sorted(names))
        return result

    recording_reward.__name__ = NAME
    tokenizer = tiny_tokenizer()
    # Rubrics differ per prompt: only the first has an accuracy criterion, none a safety one.
    rubrics = [RUBRIC] + [NO_ACCURACY] * (len(QUESTIONS) - 1)
    dataset = Dataset.from_dict({"prompt": QUESTIONS, "rubric": rubrics})
    gathered = Gathered()
    args = GRPOConfig(
        output_dir=str(out / "trainer"),
        use_cpu=True,
        bf16=False,
        per_device_train_batch_size=2,
        num_generations=4,
        max_completion_length=8,
        max_steps=2,
        logging_steps=1,
        report_to=[],
        save_strategy="no",
        seed=0,
        ddp_backend="gloo",
    )
    trainer = GRPOTrainer(
        model=tiny_model(tokenizer),
        reward_funcs=[recording_reward],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[gathered],
    )
    gathered.trainer = trainer
    trainer.train()
    report = {
        "world_size": trainer.accelerator.num_processes,
        "backend": str(trainer.accelerator.state.backend),
        "refused": refused,
        "logged": logged,
        "steps": gathered.steps,
    }
    (out / f"rank{rank}.json").write_text(json.dumps(report), encoding="utf-8")


if __name__ == "__main__":
    main()
