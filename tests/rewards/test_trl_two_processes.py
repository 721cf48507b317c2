"""TRL's GRPOTrainer on two CPU processes (torch.distributed with gloo) with a rubricate reward.

Each rank sees a slice of the groups: the reward functions must log one fixed set of metric
keys on both (TRL averages each key across processes) and refuse group normalization; the
rewards the trainer gathers must equal rubricate's own scores.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("trl")

from tests.rewards.rows import NO_ACCURACY, RUBRIC, own_scores_for
from tests.rewards.trl_two_processes import QUESTIONS
from tests.support.judge_server import JudgeServer

ROOT = Path(__file__).resolve().parents[2]
EXPECTED_KEYS = sorted(
    [
        "rubricate/ungradable_frac",
        "rubricate/criterion_errors",
        "rubricate/axis/accuracy",
        "rubricate/has_axis/accuracy",
        "rubricate/axis/safety",
        "rubricate/has_axis/safety",
    ]
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def completion_text(completion: object) -> str:
    if isinstance(completion, str):
        return completion
    return "".join(m["content"] for m in completion)  # type: ignore[attr-defined]


def test_two_process_grpo_logs_the_same_keys_and_rewards_equal_scores(tmp_path: Path) -> None:
    with JudgeServer() as server:
        env = {
            **os.environ,
            "JUDGE_URL": server.url,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
            "OMP_NUM_THREADS": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
        env = {k: v for k, v in env.items() if not k.startswith("RUBRICATE_")}
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            f"--master_port={free_port()}",
            "-m",
            "tests.rewards.trl_two_processes",
            str(tmp_path),
        ]
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=540
        )
        assert done.returncode == 0, done.stderr[-4000:]
        ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
        for rank in ranks:
            assert rank["world_size"] == 2 and rank["backend"] == "gloo"
            assert "2 processes" in rank["refused"] and "scale_rewards" in rank["refused"]
            assert rank["logged"] and all(names == EXPECTED_KEYS for names in rank["logged"])
        steps = ranks[0]["steps"]
        assert len(steps) == 2
        for step in steps:
            texts = [completion_text(c) for c in step["completions"]]
            # one prompt's group of 4 per step, 2 completions on each process, gathered
            assert len(texts) == 4 and len(set(step["prompts"])) == 1
            rubrics = [RUBRIC if p == QUESTIONS[0] else NO_ACCURACY for p in step["prompts"]]
            expected = own_scores_for(server.url, step["prompts"], texts, rubrics)
            assert step["rewards"] == pytest.approx(expected, abs=1e-6)
            logs = step["logs"]
            assert logs["rewards/rubric_reward/mean"] == pytest.approx(
                sum(expected) / len(expected), abs=1e-5
            )
            assert all(key in logs for key in EXPECTED_KEYS)
