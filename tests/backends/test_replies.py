"""Judge replies checked at the edge: malformed usage and logprobs from a real loopback server are
failed calls (``MalformedReply``, counted, an ``error`` verdict that says why), never a crash;
absent usage is unknown, not zero."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

import rubricate
from rubricate.backends import OpenAIJudge, create_openai_judge
from rubricate.errors import MalformedReply
from rubricate.formats import read_samples
from rubricate.types import JudgeRequest, Message, Sample
from tests.helpers import SHARED_DATA
from tests.support.judge_server import JudgeServer

ANSWER_PREFIX = '{"verdict": "'


def request(*, probabilities: bool = False) -> JudgeRequest:
    user = 'Criterion:\n<criterion id="c1">\nMentions a dose\n</criterion>\n'
    return JudgeRequest(
        messages=(Message("user", user),),
        criterion_ids=("c1",),
        max_tokens=32,
        want_probabilities=probabilities,
        choices=("met", "not_met") if probabilities else (),
        answer_prefix=ANSWER_PREFIX,
    )


def with_usage(usage: Any) -> Any:
    def rewrite(payload: dict[str, Any]) -> dict[str, Any]:
        return {**payload, "usage": usage}

    return rewrite


def raw_usage(text: str) -> Any:
    """The completion with its usage spelled as raw JSON text (``1e999`` cannot be dumped)."""

    def rewrite(payload: dict[str, Any]) -> bytes:
        body = json.dumps({**payload, "usage": "@@"})
        return body.replace('"@@"', text).encode()

    return rewrite


MALFORMED_USAGE = [
    pytest.param(with_usage({"prompt_tokens": "many", "completion_tokens": 1}), id="string"),
    pytest.param(with_usage({"prompt_tokens": [1], "completion_tokens": 1}), id="list"),
    pytest.param(raw_usage('{"prompt_tokens": 1e999, "completion_tokens": 1}'), id="1e999"),
    pytest.param(raw_usage('{"prompt_tokens": NaN, "completion_tokens": 1}'), id="nan"),
    pytest.param(with_usage({"prompt_tokens": -3, "completion_tokens": 1}), id="negative"),
    pytest.param(with_usage({"prompt_tokens": 2.5, "completion_tokens": 1}), id="fraction"),
    pytest.param(with_usage({"prompt_tokens": True, "completion_tokens": 1}), id="bool"),
    pytest.param(with_usage({"prompt_tokens": 10**400, "completion_tokens": 1}), id="huge"),
    pytest.param(with_usage([1, 2]), id="usage-list"),
    pytest.param(with_usage("lots"), id="usage-string"),
    pytest.param(
        with_usage({"prompt_tokens": 3, "prompt_tokens_details": {"cached_tokens": "x"}}),
        id="cached-string",
    ),
]


@pytest.mark.parametrize("rewrite", MALFORMED_USAGE)
async def test_malformed_usage_is_a_malformed_reply(rewrite: Any) -> None:
    with JudgeServer(rewrite=rewrite) as server:
        async with OpenAIJudge(base_url=server.url, model="stub", timeout=5) as judge:
            with pytest.raises(MalformedReply, match="malformed reply: usage") as caught:
                await judge.complete(request())
        assert server.requests == 1
    error = caught.value
    assert error.code == "malformed_reply" and error.retryable and error.status == 200


MALFORMED_LOGPROBS = [
    pytest.param("many", id="string"),
    pytest.param({"content": "many"}, id="content-string"),
    pytest.param({"content": [1, 2]}, id="entries-not-objects"),
    pytest.param({"content": [{"token": 5, "logprob": -0.1}]}, id="token-number"),
    pytest.param({"content": [{"token": "met", "logprob": "low"}]}, id="logprob-string"),
    pytest.param({"content": [{"token": "met", "logprob": -0.1, "top_logprobs": 3}]}, id="top"),
    pytest.param(
        {"content": [{"token": "met", "logprob": -0.1, "top_logprobs": [{"token": None}]}]},
        id="top-token-null",
    ),
    pytest.param({"content": [{"token": "met", "logprob": 800.0}]}, id="logprob-positive"),
    pytest.param({"content": [{"token": "met", "logprob": float("nan")}]}, id="logprob-nan"),
    pytest.param({"content": [{"token": "met", "logprob": float("inf")}]}, id="logprob-inf"),
    pytest.param({"content": [{"token": "met", "logprob": True}]}, id="logprob-bool"),
]


@pytest.mark.parametrize("logprobs", MALFORMED_LOGPROBS)
async def test_malformed_logprobs_are_a_malformed_reply_when_asked_for(logprobs: Any) -> None:
    def rewrite(payload: dict[str, Any]) -> dict[str, Any]:
        payload["choices"][0]["logprobs"] = logprobs
        return payload

    with JudgeServer(rewrite=rewrite) as server:
        async with OpenAIJudge(base_url=server.url, model="stub", timeout=5) as judge:
            with pytest.raises(MalformedReply, match="malformed reply: logprobs"):
                await judge.complete(request(probabilities=True))
            # Not asked for: not read, so not held against the reply.
            reply = await judge.complete(request())
    assert json.loads(reply.text) == {"verdict": reply.text.split('"')[3]}


async def test_absent_usage_is_unknown_and_counted_not_zero() -> None:
    with JudgeServer(
        rewrite=lambda payload: {k: v for k, v in payload.items() if k != "usage"}
    ) as s:
        async with OpenAIJudge(base_url=s.url, model="stub", timeout=5) as judge:
            first = await judge.complete(request())
            second = await judge.complete(request())
    assert not first.usage.known and (first.usage + second.usage).known is False
    assert judge.replies_without_usage == 2
    with JudgeServer() as server:
        async with OpenAIJudge(base_url=server.url, model="stub", timeout=5) as judge:
            reply = await judge.complete(request())
    assert reply.usage.known and reply.usage.prompt_tokens > 0
    assert judge.replies_without_usage == 0


def test_a_run_against_a_judge_with_malformed_usage_finishes_with_error_verdicts() -> None:
    samples = [
        s
        for s in itertools.islice(
            read_samples(SHARED_DATA / "healthbench_dev.jsonl", response_source="ideal"), 2
        )
        if isinstance(s, Sample)
    ]
    n_criteria = sum(len(s.rubric.criteria) for s in samples)
    with JudgeServer(rewrite=with_usage({"prompt_tokens": "many"}), record=False) as server:
        judge = create_openai_judge(
            server.url, "stub", timeout=5, max_retries=2, backoff_base=0.001, backoff_max=0.002
        )
        result = rubricate.grade(samples, judge, concurrency=4)
        calls = server.requests
    counts = result.summary.counts
    assert counts.failed_calls == n_criteria and counts.errors == n_criteria
    assert calls == 3 * n_criteria  # each call retried twice, never held as an outage
    verdicts = [v for r in result.results for v in r.verdicts]
    assert {v.verdict for v in verdicts} == {"error"}
    assert all("malformed reply: usage.prompt_tokens" in (v.explanation or "") for v in verdicts)
    assert [r.score for r in result.results] == [None] * len(samples)
