"""The README's TRL snippet, read from the README and run as pasted (a real GRPOTrainer step)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("trl")

from datasets import Dataset
from trl import GRPOConfig

from tests.rewards.readme import code_blocks
from tests.rewards.rows import RUBRIC, own_axes, own_scores_for
from tests.rewards.test_trl_trainer import Snapshots, completion_text
from tests.rewards.tiny_models import tiny_model, tiny_tokenizer
from tests.support.judge_server import JudgeServer

README_JUDGE_URL = "http://127.0.0.1:8000/v1"


def test_readme_trl_snippet_trains_and_its_rewards_equal_rubricate_scores(
    tmp_path: Path,
) -> None:
    (snippet,) = [b for b in code_blocks("Rubrics as rewards", "python") if "GRPOTrainer" in b]
    tokenizer = tiny_tokenizer()
    model_dir = tmp_path / "tiny"  # GRPOTrainer loads model and tokenizer from a path
    tiny_model(tokenizer).save_pretrained(str(model_dir))
    tokenizer.save_pretrained(str(model_dir))
    questions = ["What is 2 + 2?", "Say hello."]
    with JudgeServer() as server:
        namespace: dict[str, Any] = {
            "model": str(model_dir),
            "dataset": Dataset.from_dict({"prompt": questions, "rubric": [RUBRIC] * 2}),
            "args": GRPOConfig(
                output_dir=str(tmp_path / "out"),
                use_cpu=True,
                bf16=False,
                per_device_train_batch_size=4,
                num_generations=4,
                max_completion_length=8,
                max_steps=1,
                logging_steps=1,
                report_to=[],
                save_strategy="no",
                seed=0,
            ),
        }
        assert snippet.count(README_JUDGE_URL) == 2
        exec(snippet.replace(README_JUDGE_URL, server.url), namespace)
        trainer, reward = namespace["trainer"], namespace["reward"]
        snapshots = Snapshots(reward.__name__)
        snapshots.trainer = trainer
        trainer.add_callback(snapshots)
        trainer.train()
        (step,) = snapshots.steps
        texts = [completion_text(c) for c in step["completions"]]
        assert step["rewards"] == pytest.approx(own_scores_for(server.url, step["prompts"], texts))
        accuracy, completeness = namespace["per_axis"]
        columns = {"rubric": [RUBRIC] * 2, "log_metric": lambda name, value: None}
        prompts = [questions[0]] * 2
        assert accuracy(prompts, texts[:2], **columns) == pytest.approx(
            own_axes(server.url, texts[:2], "accuracy")
        )
        assert completeness(prompts, texts[:2], **columns) == pytest.approx(
            own_axes(server.url, texts[:2], "completeness")
        )
