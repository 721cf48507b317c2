"""Sampling settings: every backend sends what a request sets, and a cache key holds exactly that."""

from __future__ import annotations

import json

import httpx
import pytest

from rubricate.backends import ScriptedJudge, create_openai_judge
from rubricate.backends.openai import OpenAIJudge
from rubricate.types import JudgeRequest, Message
from tests.support.judge_server import JudgeServer

MESSAGES = (Message("user", "write a poem"),)


def test_a_request_names_only_the_sampling_settings_it_sets() -> None:
    assert JudgeRequest(MESSAGES, ()).sampling() == {}
    assert JudgeRequest(MESSAGES, (), temperature=0.7).sampling() == {"temperature": 0.7}
    assert JudgeRequest(MESSAGES, (), seed=3).sampling() == {"seed": 3}
    assert JudgeRequest(MESSAGES, (), temperature=0.0, seed=0).sampling() == {
        "temperature": 0.0,
        "seed": 0,
    }


@pytest.mark.parametrize(
    "sampling",
    [{}, {"temperature": 0.9}, {"seed": 11}, {"temperature": 1.3, "seed": 2}, {"temperature": 0.0}],
)
def test_the_body_is_a_function_of_fingerprint_and_sampling(sampling: dict[str, float]) -> None:
    """Two requests with the same key get the same body; a different key, a different body."""
    judge = OpenAIJudge(base_url="http://x/v1", model="m", temperature=0.2, seed=5)
    request = JudgeRequest(MESSAGES, (), **sampling)  # type: ignore[arg-type]
    body = judge.body(request)
    assert body["temperature"] == sampling.get("temperature", 0.2)
    assert body["seed"] == sampling.get("seed", 5)
    assert judge.body(JudgeRequest(MESSAGES, (), **sampling)) == body  # type: ignore[arg-type]
    other = JudgeRequest(MESSAGES, (), temperature=sampling.get("temperature", 0.2) + 0.5)
    assert judge.body(other) != body and other.sampling() != request.sampling()


def test_no_seed_is_sent_when_neither_judge_nor_request_has_one() -> None:
    judge = OpenAIJudge(base_url="http://x/v1", model="m")
    assert "seed" not in judge.body(JudgeRequest(MESSAGES, ()))
    assert judge.body(JudgeRequest(MESSAGES, (), seed=0))["seed"] == 0


async def test_temperature_and_seed_reach_the_wire_through_every_layer() -> None:
    with (
        JudgeServer(
            respond=lambda body: json.dumps([body["temperature"], body.get("seed")])
        ) as one,
        JudgeServer(
            respond=lambda body: json.dumps([body["temperature"], body.get("seed")])
        ) as two,
    ):
        for urls in (one.url, [one.url, two.url]):
            async with create_openai_judge(
                urls, "stub", temperature=0.1, concurrency=2, rpm=6000, hedge_after=5.0
            ) as judge:
                defaults = await judge.complete(JudgeRequest(MESSAGES, ()))
                chosen = await judge.complete(JudgeRequest(MESSAGES, (), temperature=0.9, seed=7))
            assert json.loads(defaults.text) == [0.1, None]
            assert json.loads(chosen.text) == [0.9, 7]


async def test_the_scripted_judge_hands_the_whole_request_to_its_function() -> None:
    judge = ScriptedJudge(reply=lambda r: f"{r.temperature}/{r.seed}")
    assert (await judge.complete(JudgeRequest(MESSAGES, (), temperature=0.4, seed=9))).text == (
        "0.4/9"
    )
    assert (await judge.complete(JudgeRequest(MESSAGES, ()))).text == "None/None"


async def test_a_requests_settings_win_over_extra_body_which_wins_over_the_judges() -> None:
    seen: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json={"choices": [{"message": {"content": "x"}}]})

    async with create_openai_judge(
        "http://judge.test/v1",
        "m",
        extra_body={"temperature": 0.3},
        transport=httpx.MockTransport(handler),
    ) as judge:
        await judge.complete(JudgeRequest(MESSAGES, ()))
        await judge.complete(JudgeRequest(MESSAGES, (), temperature=0.9))
    assert [body["temperature"] for body in seen] == [0.3, 0.9]
