"""The reward server in front of a judge that is down, or that sends malformed replies, over real
HTTP: a clear 503 (never a 500, never a long wait), ``/healthz`` showing the breaker, recovery."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rubricate.server import ServerSettings, create_app
from rubricate.settings import JudgeSettings
from tests.rewards.rows import QUESTION, RESPONSES, RUBRIC
from tests.server.live import LiveServer
from tests.support.judge_server import JudgeServer

CHATML_PROMPT = "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n"


def openrlhf_body(responses: list[str]) -> dict[str, Any]:
    return {
        "query": [CHATML_PROMPT + text + "<|im_end|>" for text in responses],
        "prompts": [CHATML_PROMPT] * len(responses),
        "labels": [json.dumps(RUBRIC)] * len(responses),
    }


def native_body(responses: list[str]) -> dict[str, Any]:
    return {"samples": [{"prompt": QUESTION, "response": r, "rubric": RUBRIC} for r in responses]}


@pytest.fixture
def reward_server(tmp_path: Path) -> Iterator[Any]:
    started: list[LiveServer] = []

    def start(judge_url: str, **judge: Any) -> LiveServer:
        settings = JudgeSettings(
            judge_urls=[judge_url],
            judge_model="stub",
            cache=tmp_path / f"cache{len(started)}.sqlite",
            **{"max_retries": 2, "timeout": 5.0, "concurrency": 4, **judge},
        )
        server = LiveServer(create_app(ServerSettings(judge=settings)))
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def healthz(server: LiveServer) -> dict[str, Any]:
    reply = httpx.get(f"{server.url}/healthz", timeout=10)
    assert reply.status_code == 200
    data: dict[str, Any] = reply.json()
    return data


def test_a_judge_answering_500_gets_503_judge_down_then_no_more_judge_calls(
    reward_server: Any,
) -> None:
    with JudgeServer(fault_rate=1.0, faults=("500",), record=False) as judge:
        server = reward_server(judge.url, breaker_failures=3, breaker_cooldown=600)
        assert healthz(server)["judge_state"] == "ok"
        first = httpx.post(f"{server.url}/get_reward", json=openrlhf_body(RESPONSES), timeout=60)
        calls = judge.requests
        later = [
            httpx.post(f"{server.url}/v1/reward", json=native_body(RESPONSES[:2]), timeout=60),
            httpx.post(f"{server.url}/get_reward", json=openrlhf_body(RESPONSES), timeout=60),
        ]
        assert judge.requests == calls  # refused before any judge call
    # The breaker opened after three 500s; calls in flight (4 slots) may add a few more.
    assert 3 <= calls <= 3 + 4, calls
    for reply in (first, *later):
        assert reply.status_code == 503, reply.text
        error = reply.json()["error"]
        assert error["code"] == "judge_down" and "judge server answered 500" in error["message"]
        assert 500 <= int(reply.headers["retry-after"]) <= 600
    health = healthz(server)
    assert health["status"] == "ok" and health["judge_state"] == "down"
    (breaker,) = health["breakers"]
    assert breaker["state"] == "open" and breaker["consecutive_failures"] >= 3
    assert breaker["refused_calls"] > 0 and 0 < breaker["retry_in_s"] <= 600
    metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
    assert 'rejected_total{reason="judge_down"} 3' in metrics
    assert "rubricate_judge_breakers_open 1" in metrics
    assert 'status="500"' not in metrics


def test_the_judge_coming_back_is_found_by_a_probe_and_the_server_serves_again(
    reward_server: Any,
) -> None:
    with JudgeServer(fail_first_n=3, faults=("500",), record=False) as judge:
        server = reward_server(judge.url, breaker_failures=3, breaker_cooldown=0.2, concurrency=1)
        down = httpx.post(f"{server.url}/get_reward", json=openrlhf_body(RESPONSES), timeout=60)
        assert down.status_code == 503 and down.json()["error"]["code"] == "judge_down"
        for _ in range(1000):  # the cooldown is 0.2 s; bounded at about 10 s
            if healthz(server)["breakers"][0]["state"] == "half_open":
                break
            time.sleep(0.01)
        up = httpx.post(f"{server.url}/get_reward", json=openrlhf_body(RESPONSES), timeout=60)
        health = healthz(server)
    assert up.status_code == 200, up.text
    assert up.json()["extra_logs"]["n_errors"] == [0.0] * len(RESPONSES)
    assert health["judge_state"] == "ok" and health["breakers"][0]["state"] == "closed"
    assert health["breakers"][0]["times_opened"] == 1


def test_malformed_usage_is_a_counted_error_not_a_500_and_not_judge_down(
    reward_server: Any,
) -> None:
    def rewrite(payload: dict[str, Any]) -> dict[str, Any]:
        return {**payload, "usage": {"prompt_tokens": "many", "completion_tokens": [1]}}

    with JudgeServer(rewrite=rewrite, record=False) as judge:
        server = reward_server(judge.url, max_retries=1)
        replies = [
            httpx.post(f"{server.url}/get_reward", json=openrlhf_body(RESPONSES[:2]), timeout=60),
            httpx.post(f"{server.url}/v1/grade", json=native_body(RESPONSES[:1]), timeout=60),
        ]
        health = healthz(server)
    ungradable = replies[0].json()["extra_logs"]["ungradable"]
    assert [r.status_code for r in replies] == [200, 200] and ungradable == [1.0, 1.0]
    verdicts = replies[1].json()["results"][0]["verdicts"]
    assert {v["verdict"] for v in verdicts} == {"error"}
    assert all("malformed reply: usage" in v["explanation"] for v in verdicts)
    assert health["judge_state"] == "ok"  # the judge answers: it is not down


def test_healthz_answers_while_a_hanging_judge_holds_a_request(reward_server: Any) -> None:
    with JudgeServer(fault_rate=1.0, faults=("timeout",), timeout_s=60, record=False) as judge:
        server = reward_server(judge.url, timeout=0.5, max_retries=3, breaker_failures=4)
        outcome: dict[str, httpx.Response] = {}
        worker = threading.Thread(
            target=lambda: outcome.setdefault(
                "r",
                httpx.post(f"{server.url}/get_reward", json=openrlhf_body(RESPONSES), timeout=60),
            )
        )
        worker.start()
        health = healthz(server)  # served while the request waits on the judge
        worker.join(timeout=60)
        calls = judge.requests
    assert health["status"] == "ok"
    reply = outcome["r"]
    assert reply.status_code == 503 and reply.json()["error"]["code"] == "judge_down"
    # Four timeouts (one slot wave) open the breaker; without it: 24 criteria x 4 attempts.
    assert calls <= 8, calls


def test_a_jury_with_one_judge_down_is_degraded_and_still_grades(tmp_path: Path) -> None:
    with (
        JudgeServer(record=False) as a,
        JudgeServer(record=False) as b,
        JudgeServer(fault_rate=1.0, faults=("500",), record=False) as down,
    ):
        jury = tmp_path / "jury.json"
        members = [{"url": s.url, "model": f"m{i}"} for i, s in enumerate((a, b, down))]
        jury.write_text(json.dumps({"judges": members, "rule": "majority"}))
        settings = JudgeSettings(
            jury=jury, cache=tmp_path / "c.sqlite", max_retries=0, breaker_failures=2
        )
        with LiveServer(create_app(ServerSettings(judge=settings))) as server:
            reply = httpx.post(
                f"{server.url}/v1/grade", json=native_body(RESPONSES[:2]), timeout=60
            )
            health = healthz(server)
    assert reply.status_code == 200, reply.text
    for result in reply.json()["results"]:
        for verdict in result["verdicts"]:
            assert verdict["verdict"] in ("met", "not_met", "cannot_assess")
            assert [v["verdict"] for v in verdict["jury"]][2] == "error"
    # One breaker per jury judge; the dead one is open.
    assert [b["state"] for b in health["breakers"]] == ["closed", "closed", "open"]
    assert health["judge_state"] == "degraded"
