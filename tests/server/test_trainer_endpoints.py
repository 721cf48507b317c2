"""What one-sample-per-request trainers get from the server: OpenRLHF's client under saturation,
labels carrying their own messages, the start-up refusal of group normalization, per-request
normalization on ``/v1/reward``."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from rubricate.errors import ConfigError
from rubricate.rewards import Shaping
from rubricate.server import ServerSettings, create_app
from rubricate.settings import JudgeSettings
from tests.rewards.rows import QUESTION, RESPONSES, RUBRIC, own_scores
from tests.server.conftest import Serve
from tests.server.test_app import CHATML_PROMPT, native_sample
from tests.server.test_openrlhf import ScriptedEngine, _SamplingParams
from tests.support.judge_server import JudgeServer


def openrlhf_rollouts(url: str, responses: list[str]) -> list[dict[str, Any]]:
    """OpenRLHF 0.11.2's ``SingleTurnAgentExecutor``: one /get_reward request per rollout, all at once."""
    agent = pytest.importorskip("openrlhf.utils.agent")
    from tests.rewards.tiny_models import tiny_tokenizer

    tokenizer = tiny_tokenizer()
    executor = agent.SingleTurnAgentExecutor(remote_rm_url=f"{url}/get_reward")
    engine = ScriptedEngine(tokenizer, responses)
    label = json.dumps(RUBRIC)

    async def rollouts() -> list[dict[str, Any]]:
        return list(
            await asyncio.gather(
                *(
                    executor.execute(
                        CHATML_PROMPT, label, _SamplingParams(), 512, tokenizer, engine
                    )
                    for _ in responses
                )
            )
        )

    return asyncio.run(rollouts())


def test_openrlhf_client_gets_every_reward_when_the_server_is_saturated(serve: Serve) -> None:
    """OpenRLHF's client retries 5 times, 1 s apart, and ignores Retry-After. With room for one
    sample at a time and 1.5 s per judgment, the sixth rollout waits about 7.5 s: refused with
    503 it loses its reward; queued it gets it."""
    pytest.importorskip("torch")
    with JudgeServer(latency_s=1.5) as judge:
        refusing = serve(judge.url, max_pending=len(RUBRIC), max_queued=0, cache=False)
        dropped = [o["reward"] for o in openrlhf_rollouts(refusing.url, RESPONSES)]
        # the README's sizing rule: room for a whole step's criteria, pending or queued
        step = len(RESPONSES) * len(RUBRIC)
        queued = serve(judge.url, max_pending=len(RUBRIC), max_queued=step, cache=False)
        outputs = openrlhf_rollouts(queued.url, RESPONSES)
        metrics = httpx.get(f"{queued.url}/metrics").text
        expected = own_scores(judge.url, RESPONSES)
    assert any(r is None for r in dropped)  # the failure the queue exists for
    assert [o["reward"][0] for o in outputs] == pytest.approx(expected)
    assert 'rejected_total{reason="queue_full"}' not in metrics


def test_queue_is_bounded_and_admits_in_arrival_order(serve: Serve) -> None:
    with JudgeServer(latency_s=0.5) as judge:
        server = serve(judge.url, max_pending=len(RUBRIC), max_queued=len(RUBRIC), cache=False)

        async def three_at_once() -> list[httpx.Response]:
            async with httpx.AsyncClient(timeout=30) as client:
                body = {"query": [CHATML_PROMPT + "x"], "prompts": [CHATML_PROMPT]}
                posts = [
                    client.post(
                        f"{server.url}/get_reward",
                        json={
                            **body,
                            "query": [CHATML_PROMPT + text],
                            "labels": [json.dumps(RUBRIC)],
                        },
                    )
                    for text in RESPONSES[:3]
                ]
                return list(await asyncio.gather(*posts))

        replies = asyncio.run(three_at_once())
    codes = sorted(r.status_code for r in replies)
    assert codes == [200, 200, 503]  # one graded, one queued, one beyond the queue's bound
    refused = next(r for r in replies if r.status_code == 503)
    assert refused.json()["error"]["code"] == "overloaded"


def test_a_label_may_carry_the_prompt_messages_for_any_chat_template(
    judge_server: JudgeServer, serve: Serve
) -> None:
    server = serve(judge_server.url)
    template = "<|system|>\nBe brief.</s>\n<|user|>\nWhat is 2 + 2?</s>\n<|assistant|>\n"  # Zephyr
    label = json.dumps({"rubric": RUBRIC, "prompt": QUESTION})
    body = {
        "query": [template + text + "</s>" for text in RESPONSES[:3]],
        "prompts": [template] * 3,
        "labels": [label] * 3,
    }
    reply = httpx.post(f"{server.url}/get_reward", json=body, timeout=30)
    assert reply.status_code == 200, reply.text
    assert reply.json()["rewards"] == pytest.approx(own_scores(judge_server.url, RESPONSES[:3]))


@pytest.mark.parametrize("method", ["zscore", "rank"])
def test_server_wide_normalization_is_refused_at_start_up(method: str) -> None:
    settings = ServerSettings(
        judge=JudgeSettings(judge_urls=["http://127.0.0.1:9/v1"], judge_model="m"),
        shaping=Shaping(normalize=method),  # type: ignore[arg-type]
    )
    with pytest.raises(ConfigError, match=r"one sample per request.*POST /v1/reward"):
        create_app(settings)


def test_v1_reward_normalizes_within_the_request_groups(
    judge_server: JudgeServer, serve: Serve
) -> None:
    server = serve(judge_server.url)
    samples = [native_sample(t, group="a") for t in RESPONSES[:3]]
    samples += [native_sample(t, group="b") for t in RESPONSES[3:]]
    plain = httpx.post(f"{server.url}/v1/reward", json={"samples": samples}, timeout=30).json()
    shaped = httpx.post(
        f"{server.url}/v1/reward", json={"samples": samples, "normalize": "zscore"}, timeout=30
    ).json()
    assert plain["rewards"] == pytest.approx(own_scores(judge_server.url, RESPONSES))
    for group in (slice(0, 3), slice(3, 6)):
        values = shaped["rewards"][group]
        raw = plain["rewards"][group]
        mean = sum(raw) / 3
        std = (sum((r - mean) ** 2 for r in raw) / 3) ** 0.5
        assert values == pytest.approx([(r - mean) / std for r in raw])
    bad = httpx.post(
        f"{server.url}/v1/reward", json={"samples": samples, "normalize": "minmax"}, timeout=30
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "normalize"
