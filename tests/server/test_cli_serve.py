"""``rubricate serve``: its flags reach the application, and as a real process: start-up, one
OpenRLHF request, clean stop."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

import rubricate.server
from rubricate.cli import serve as _serve  # noqa: F401  (registers the command)
from rubricate.cli._app import app
from tests.rewards.rows import QUESTION, RESPONSES, RUBRIC, own_scores
from tests.server.live import LiveServer
from tests.server.test_app import Gate, _wait_until_pending, openrlhf_body
from tests.server.test_nemo_gym import verify_body
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


def _built_app(monkeypatch: pytest.MonkeyPatch, *flags: str) -> FastAPI:
    """``rubricate serve FLAGS`` up to where it would listen: the application it built."""
    built: dict[str, FastAPI] = {}

    def capture(application: FastAPI, **_: Any) -> None:
        built["app"] = application

    monkeypatch.setattr(rubricate.server, "run_server", capture)
    result = CliRunner().invoke(app, ["serve", *flags])
    assert result.exit_code == 0, result.output
    return built["app"]


def _judge_flags(url: str, tmp_path: Path) -> list[str]:
    return [
        "--judge-url", url, "--judge-model", "stub", "--max-retries", "0",
        "--cache", str(tmp_path / "cache.sqlite"),
    ]  # fmt: skip


def test_help_names_the_queue_and_every_endpoint() -> None:
    shown = CliRunner().invoke(app, ["serve", "--help"], terminal_width=200)
    text = " ".join(shown.output.split())
    for named in ("--max-queued", "--docs", "--axis-fill", "/verify", "/aggregate_metrics"):
        assert named in text
    assert "wait in a bounded line of --max-queued criteria" in text
    for named in ("/v1/tournament", "--tournament-max-group", "--tournament-opponents"):
        assert named in text
    assert "G(G-1)/2 for a round robin, or G x ceil(K/2)" in text
    # verl's reward-worker budget is no server option
    assert "--num-workers" not in text and "--total-concurrency" not in text


def test_docs_and_axis_fill_flags_reach_the_app(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RUBRICATE_SERVER_API_KEY", "secret")
    key = {"Authorization": "Bearer secret"}
    with JudgeServer() as judge:
        flags = [*_judge_flags(judge.url, tmp_path), "--axes", "accuracy,safety"]
        with LiveServer(_built_app(monkeypatch, *flags, "--docs", "--axis-fill", "0.5")) as server:
            for path in ("/docs", "/openapi.json"):
                assert httpx.get(f"{server.url}{path}").status_code == 401
                assert httpx.get(f"{server.url}{path}", headers=key).status_code == 200
            paths = httpx.get(f"{server.url}/openapi.json", headers=key).json()["paths"]
            assert {"/get_reward", "/verify", "/aggregate_metrics"} <= set(paths)
            verified = httpx.post(
                f"{server.url}/verify", json=verify_body(RESPONSES[0]), headers=key, timeout=30
            )
            assert verified.status_code == 200, verified.text
            assert verified.json()["reward_components"]["safety"] == 0.5  # no safety criterion
        with LiveServer(_built_app(monkeypatch, *flags)) as server:
            assert httpx.get(f"{server.url}/docs", headers=key).status_code == 404
            assert httpx.get(f"{server.url}/openapi.json", headers=key).status_code == 404


def test_max_queued_from_the_flag_or_environment_bounds_the_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """One request fills --max-pending; the next one waits in line or, without room, gets 503."""
    monkeypatch.chdir(tmp_path)
    pending = ["--max-pending", str(len(RUBRIC) + 2)]

    def second_request(application: FastAPI, gate: Gate, *, wait_in_line: bool) -> httpx.Response:
        """Two requests while the judge holds the first; the second's reply."""
        queue = application.state.rubricate.queue
        replies: dict[str, httpx.Response] = {}
        with LiveServer(application) as server:

            def post(name: str, responses: list[str]) -> None:
                replies[name] = httpx.post(
                    f"{server.url}/get_reward", json=openrlhf_body(responses), timeout=60
                )

            first = threading.Thread(target=post, args=("first", RESPONSES[:1]))
            second = threading.Thread(target=post, args=("second", RESPONSES[1:2]))
            try:
                first.start()
                _wait_until_pending(server.url)
                second.start()
                for _ in range(500):  # bounded: about 5 s
                    if queue.queued == len(RUBRIC) or not second.is_alive():
                        break
                    time.sleep(0.01)
                waited = queue.queued
            finally:
                gate.open.set()
                first.join(timeout=60)
                second.join(timeout=60)
        assert waited == (len(RUBRIC) if wait_in_line else 0)
        assert replies["first"].status_code == 200
        return replies["second"]

    gate = Gate()
    with JudgeServer(decide=gate.decide) as judge:
        flags = [*_judge_flags(judge.url, tmp_path), *pending]
        application = _built_app(monkeypatch, *flags, "--max-queued", "0")
        refused = second_request(application, gate, wait_in_line=False)
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "overloaded"

    monkeypatch.setenv("RUBRICATE_SERVER_MAX_QUEUED", str(len(RUBRIC)))
    gate = Gate()
    with JudgeServer(decide=gate.decide) as judge:
        flags = [*_judge_flags(judge.url, tmp_path / "other"), *pending]
        waited = second_request(_built_app(monkeypatch, *flags), gate, wait_in_line=True)
    assert waited.status_code == 200


def test_tournament_flags_reach_the_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    flags = ["--tournament-max-group", "3", "--tournament-opponents", "1"]
    with JudgeServer(respond=lambda body: "[[A>B]]") as judge:
        application = _built_app(monkeypatch, *_judge_flags(judge.url, tmp_path), *flags)
        with LiveServer(application) as server:
            url = f"{server.url}/v1/tournament"
            group = {"prompt": "Hi", "completions": ["a", "b", "c"]}
            played = httpx.post(url, json={"groups": [group]}, timeout=30)
            too_many = httpx.post(
                url, json={"groups": [{**group, "completions": ["a"] * 4}]}, timeout=30
            )
    assert played.status_code == 200, played.text
    assert played.json()["opponents"] == 1 and played.json()["groups"][0]["judge_calls"] == 6
    assert too_many.status_code == 422
    assert too_many.json()["error"]["field"] == "groups[0].completions"
