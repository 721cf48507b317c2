"""OpenRLHF's own reward client against the reward server, and its reply parsing.

OpenRLHF (``openrlhf/utils/agent.py``, ``SingleTurnAgentExecutor``) decodes prompt + response
tokens *with* special tokens into ``query``, posts ``{"query": [q], "prompts": [p], "labels": [l]}``
to ``/get_reward`` with aiohttp and reads ``rewards``, ``scores`` (falling back to ``rewards``)
and ``extra_logs``; older releases (``remote_rm_utils.request_api_wrapper``) turned ``rewards``,
``scores`` and every ``extra_logs`` list into ``torch.tensor``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from rubricate.server import messages_from_template, response_after_prompt
from tests.rewards.rows import RESPONSES, RUBRIC, own_scores
from tests.server.conftest import Serve
from tests.server.test_app import CHATML_PROMPT, openrlhf_body
from tests.support.judge_server import JudgeServer


@pytest.mark.parametrize(
    ("query", "prompt", "expected"),
    [
        (CHATML_PROMPT + "It is 4.<|im_end|>", CHATML_PROMPT, "It is 4."),
        (CHATML_PROMPT + "It is 4.<|im_end|><|endoftext|><|endoftext|>", CHATML_PROMPT, "It is 4."),
        ("<s>" + CHATML_PROMPT + "Four</s>", CHATML_PROMPT, "Four"),
        ("Question: 2+2?  Answer: 4", "Question: 2+2? Answer:", "Answer: 4"),
        ("just text", None, "just text"),
    ],
)
def test_response_is_the_query_after_its_prompt(
    query: str, prompt: str | None, expected: str
) -> None:
    assert response_after_prompt(query, prompt) == expected


def test_templated_prompts_become_messages() -> None:
    chatml = "<|im_start|>system\nBe brief.<|im_end|>\n" + CHATML_PROMPT
    assert [(m.role, m.content) for m in messages_from_template(chatml)] == [
        ("system", "Be brief."),
        ("user", "What is 2 + 2?"),
    ]
    llama = "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    assert [(m.role, m.content) for m in messages_from_template(llama)] == [("user", "Hi there")]
    assert [(m.role, m.content) for m in messages_from_template("plain")] == [("user", "plain")]


def test_reply_parses_the_way_older_openrlhf_clients_parse_it(
    judge_server: JudgeServer, serve: Serve
) -> None:
    torch = pytest.importorskip("torch")
    server = serve(judge_server.url)
    response = httpx.post(
        f"{server.url}/get_reward", json=openrlhf_body(RESPONSES), timeout=30
    ).json()
    rewards = torch.tensor(response["rewards"])
    scores = torch.tensor(response["scores"])
    logs = {key: torch.tensor(values) for key, values in response["extra_logs"].items()}
    assert rewards.shape == scores.shape == (len(RESPONSES),)
    assert all(t.shape == (len(RESPONSES),) for t in logs.values())


@dataclass
class _Completion:
    token_ids: list[int]
    finish_reason: str = "stop"
    logprobs: Any = None


@dataclass
class _RequestOutput:
    outputs: list[_Completion] = field(default_factory=list)


class ScriptedEngine:
    """Stands in for vLLM: answers each prompt with the next scripted response."""

    def __init__(self, tokenizer: Any, responses: list[str]) -> None:
        self.tokenizer = tokenizer
        self.responses = list(responses)

    async def generate(
        self, prompt_token_ids: list[int], params: Any, multi_modal_data: Any = None
    ) -> _RequestOutput:
        text = self.responses.pop(0) + "<|im_end|>"
        ids = self.tokenizer(text=text, add_special_tokens=False)["input_ids"]
        return _RequestOutput([_Completion(ids)])


@dataclass
class _SamplingParams:
    max_tokens: int | None = 64
    logprobs: int | None = None


def test_openrlhf_single_turn_executor_end_to_end(judge_server: JudgeServer, serve: Serve) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    agent = pytest.importorskip("openrlhf.utils.agent")
    from tests.rewards.tiny_models import tiny_tokenizer

    tokenizer = tiny_tokenizer()
    server = serve(judge_server.url)
    executor = agent.SingleTurnAgentExecutor(remote_rm_url=f"{server.url}/get_reward")
    engine = ScriptedEngine(tokenizer, RESPONSES)
    label = json.dumps(RUBRIC)

    async def rollouts() -> list[dict[str, Any]]:
        return list(
            await asyncio.gather(
                *(
                    executor.execute(
                        CHATML_PROMPT, label, _SamplingParams(), 512, tokenizer, engine
                    )
                    for _ in RESPONSES
                )
            )
        )

    outputs = asyncio.run(rollouts())
    expected = own_scores(judge_server.url, RESPONSES)
    got = [o["reward"] for o in outputs]
    assert all(r is not None for r in got), "the executor swallowed a reward-server error"
    # Generation order follows gather order, so output i holds response i.
    assert [r[0] for r in got] == pytest.approx(expected)
    # scores (dynamic filtering) are the score clipped to [0, 1]; one response meets a pitfall
    assert min(expected) < 0
    assert [o["scores"][0] for o in outputs] == pytest.approx([min(1, max(0, e)) for e in expected])
    assert all(o["extra_logs"]["ungradable"] == [0.0] for o in outputs)
