"""``rubricate serve`` as a real process: flags, start-up, one OpenRLHF request, clean stop."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from rubricate.cli import serve as _serve  # noqa: F401  (registers the command)
from rubricate.cli._app import app
from tests.rewards.rows import QUESTION, RESPONSES, RUBRIC, own_scores
from tests.server.test_app import openrlhf_body
from tests.support.judge_server import JudgeServer

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_help_and_bad_flags_exit_with_input_code() -> None:
    runner = CliRunner()
    shown = runner.invoke(app, ["serve", "--help"])
    assert shown.exit_code == 0 and "--max-pending" in shown.output and "--api-key" in shown.output
    bad = runner.invoke(
        app,
        [
            "serve",
            "--normalize",
            "minmax",
            "--judge-url",
            "http://127.0.0.1:9/v1",
            "--judge-model",
            "m",
        ],
    )
    assert bad.exit_code == 2


def test_serve_process_answers_openrlhf(tmp_path: Path) -> None:
    book = tmp_path / "rubrics.jsonl"
    book.write_text(json.dumps({"id": "q1", "rubric": RUBRIC, "prompt": QUESTION}) + "\n")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUBRICATE_")}
    env["PYTHONPATH"] = str(ROOT / "src")
    with JudgeServer() as judge:
        command = [
            sys.executable, "-m", "rubricate", "serve", "--port", str(port), "--judge-url", judge.url,
            "--judge-model", "stub", "--cache", str(tmp_path / "c.sqlite"), "--rubrics", str(book),
            "--max-retries", "0",
        ]  # fmt: skip
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(300):  # bounded: about 30 s for start-up
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None:
                    break
                time.sleep(0.1)
            reply = httpx.post(
                f"{url}/get_reward", json=openrlhf_body(RESPONSES[:2], label="q1"), timeout=30
            )
        finally:
            process.terminate()
            _, stderr = process.communicate(timeout=30)
        assert reply.status_code == 200, stderr.decode()
        assert reply.json()["rewards"] == pytest.approx(own_scores(judge.url, RESPONSES[:2]))
