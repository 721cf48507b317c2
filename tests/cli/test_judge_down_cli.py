"""`rubricate grade` when its only judge is down: exit 3 after a handful of judge calls, not after
every criterion spent its retries, with a message that says why."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rubricate.cli import app
from tests.helpers import healthbench_line, write_jsonl
from tests.support.judge_server import JudgeServer

runner = CliRunner()
N_SAMPLES, PER_SAMPLE = 5, 8  # 40 criteria


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    lines = [
        healthbench_line(
            f"p{i}",
            [(f"Criterion {i}.{j}", j + 1, ["axis:accuracy"]) for j in range(PER_SAMPLE)],
            response=f"answer {i}",
        )
        for i in range(N_SAMPLES)
    ]
    return write_jsonl(tmp_path / "data.jsonl", lines)


def grade(tmp_path: Path, dataset: Path, url: str, *extra: str) -> tuple[int, str, dict]:
    result = runner.invoke(
        app,
        [
            "grade", str(dataset), "--judge-url", url, "--judge-model", "x",
            "--out", str(tmp_path / "run"), "--no-cache", "--quiet", "--concurrency", "4",
            *extra,
        ],
    )  # fmt: skip
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    return result.exit_code, " ".join(result.output.split()), summary


def test_a_closed_port_exits_3_saying_the_judge_is_down(tmp_path: Path, dataset: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    code, output, summary = grade(tmp_path, dataset, url)
    assert code == 3, output
    assert "error (judge_down): no sample could be scored: 40 judge calls failed" in output
    assert "ConnectionRefusedError" in output
    assert summary["n_scored"] == 0 and summary["counts"]["failed_calls"] == N_SAMPLES * PER_SAMPLE


def test_a_judge_answering_500_is_given_up_after_a_few_calls(tmp_path: Path, dataset: Path) -> None:
    with JudgeServer(fault_rate=1.0, faults=("500",), record=False) as server:
        code, output, summary = grade(tmp_path, dataset, server.url, "--breaker-failures", "5")
        calls = server.requests
    assert code == 3, output
    assert "judge down" in output and "judge server answered 500" in output
    # Five 500s in a row open the breaker; at most the 4 calls then in flight follow.
    # Without it: 40 criteria x 6 attempts = 240 calls (see bench/README.md).
    assert 5 <= calls <= 9, calls
    assert summary["counts"]["failed_calls"] == N_SAMPLES * PER_SAMPLE


def test_breaker_off_spends_every_retry(tmp_path: Path, dataset: Path) -> None:
    with JudgeServer(fault_rate=1.0, faults=("500",), record=False) as server:
        code, _, _ = grade(
            tmp_path, dataset, server.url, "--breaker-failures", "0", "--max-retries", "1"
        )
        calls = server.requests
    assert code == 3 and calls == 2 * N_SAMPLES * PER_SAMPLE
