"""The reward server as a NeMo Gym resources server: ``/verify`` and ``/aggregate_metrics``.

NeMo Gym needs Python >= 3.12 (3.13 from 0.5), so its pydantic models cannot be imported here;
the bodies below have the exact JSON shapes read from its source (NVIDIA-NeMo/Gym):
``BaseVerifyRequest`` = ``responses_create_params`` (``NeMoGymResponseCreateParamsNonStreaming``:
``input`` items ``{content, role, type: "message"}``) + ``response`` (``NeMoGymResponse``:
the Responses API object, ``output`` items such as ``{id, content: [{annotations, text,
type: "output_text", logprobs}], role: "assistant", status, type: "message"}``), with the task's
fields and ``_ng_task_index`` / ``_ng_rollout_index`` beside them (as in
``resources_servers/*/data/example_rollouts.jsonl``); ``AggregateMetricsRequest`` =
``{verify_responses: [...]}`` answered by ``AggregateMetrics`` = ``{group_level_metrics,
agent_metrics, key_metrics}``.
"""

from __future__ import annotations

import json
import statistics
from typing import Any

import httpx
import pytest

from rubricate.rewards import Shaping
from tests.rewards.rows import NO_ACCURACY, QUESTION, RESPONSES, RUBRIC, own_axes, own_scores
from tests.server.conftest import Serve
from tests.support.judge_server import JudgeServer


def verify_body(
    text: str, task: int = 0, rollout: int = 0, rubric: Any = RUBRIC, **task_fields: Any
) -> dict[str, Any]:
    """A verify request as NeMo Gym's rollout collection posts it."""
    return {
        "responses_create_params": {
            "background": None,
            "input": [
                {"content": QUESTION[0]["content"], "role": "user", "type": "message"},
            ],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
        },
        "response": {
            "id": f"resp_{task}_{rollout}",
            "created_at": 1764547200.0,
            "error": None,
            "incomplete_details": None,
            "instructions": None,
            "metadata": None,
            "model": "policy",
            "object": "response",
            "output": [
                {
                    "id": "rs_1",
                    "type": "reasoning",
                    "summary": [{"type": "summary_text", "text": "thinking about it"}],
                },
                {
                    "id": "msg_1",
                    "content": [
                        {"annotations": [], "text": text, "type": "output_text", "logprobs": None}
                    ],
                    "role": "assistant",
                    "status": "completed",
                    "type": "message",
                },
            ],
            "parallel_tool_calls": True,
            "temperature": 1.0,
            "tool_choice": "auto",
            "tools": [],
            "top_p": 1.0,
            "status": "completed",
            "usage": None,
        },
        "rubric": rubric,
        "_ng_task_index": task,
        "_ng_rollout_index": rollout,
        "agent_ref": {"type": "responses_api_agents", "name": "rubric_agent"},
        **task_fields,
    }


def test_verify_rewards_equal_rubricate_scores_with_components_per_axis(
    judge_server: JudgeServer, serve: Serve
) -> None:
    server = serve(judge_server.url, shaping=Shaping(axes=("accuracy", "safety")), axis_fill=0.0)
    replies = [
        httpx.post(f"{server.url}/verify", json=verify_body(text, rollout=i), timeout=30)
        for i, text in enumerate(RESPONSES)
    ]
    assert all(r.status_code == 200 for r in replies), replies[0].text
    bodies = [r.json() for r in replies]
    assert [b["reward"] for b in bodies] == pytest.approx(own_scores(judge_server.url, RESPONSES))
    accuracy = own_axes(judge_server.url, RESPONSES, "accuracy")
    assert [b["reward_components"]["accuracy"] for b in bodies] == pytest.approx(accuracy)
    assert [b["axis_accuracy"] for b in bodies] == pytest.approx(accuracy)
    assert all(b["reward_components"]["safety"] == 0.0 for b in bodies)  # no safety criterion
    assert all(b["mask_sample"] is False for b in bodies)
    # BaseVerifyResponse extends the request: everything sent comes back
    first = bodies[0]
    sent = verify_body(RESPONSES[0])
    assert first["response"]["output"][1]["content"][0]["text"] == RESPONSES[0]
    assert first["agent_ref"] == sent["agent_ref"] and first["_ng_task_index"] == 0
    assert first["responses_create_params"]["input"] == sent["responses_create_params"]["input"]


def test_a_string_input_with_instructions_and_a_rubric_id(
    judge_server: JudgeServer, serve: Serve, tmp_path: Any
) -> None:
    rubrics = tmp_path / "rubrics.jsonl"
    rubrics.write_text(json.dumps({"id": "arith", "rubric": RUBRIC}) + "\n")
    server = serve(judge_server.url, rubrics=rubrics)
    body = verify_body(RESPONSES[1], rubric=None, rubric_id="arith")
    del body["rubric"]
    body["responses_create_params"]["input"] = QUESTION[0]["content"]
    reply = httpx.post(f"{server.url}/verify", json=body, timeout=30)
    assert reply.status_code == 200, reply.text
    assert reply.json()["reward"] == pytest.approx(own_scores(judge_server.url, RESPONSES[1:2])[0])


def test_an_ungradable_sample_is_masked(serve: Serve) -> None:
    with JudgeServer(fault_rate=1.0, faults=("500",)) as judge:
        server = serve(judge.url, shaping=Shaping(fallback=0.0))
        reply = httpx.post(f"{server.url}/verify", json=verify_body(RESPONSES[0]), timeout=30)
    body = reply.json()
    assert reply.status_code == 200 and body["mask_sample"] is True
    assert body["reward"] == 0.0 and body["n_errors"] == len(RUBRIC)


def test_bad_verify_bodies_name_the_field(judge_server: JudgeServer, serve: Serve) -> None:
    server = serve(judge_server.url)
    cases = []
    no_rubric = verify_body(RESPONSES[0])
    del no_rubric["rubric"]
    cases.append((no_rubric, "rubric"))
    bad_role = verify_body(RESPONSES[0])
    bad_role["responses_create_params"]["input"][0]["role"] = "robot"
    cases.append((bad_role, "responses_create_params.input[0].role"))
    no_output = verify_body(RESPONSES[0])
    del no_output["response"]["output"]
    cases.append((no_output, "response.output"))
    cases.append((verify_body(RESPONSES[0], rubric="[not json"), "rubric"))
    for body, field in cases:
        reply = httpx.post(f"{server.url}/verify", json=body, timeout=30)
        assert reply.status_code == 422, reply.text
        assert reply.json()["error"]["field"] == field


def test_aggregate_metrics_per_task_and_overall(judge_server: JudgeServer, serve: Serve) -> None:
    server = serve(judge_server.url, shaping=Shaping(axes=("accuracy",)))
    verified = []
    for task, rubric in enumerate((RUBRIC, NO_ACCURACY)):
        for rollout, text in enumerate(RESPONSES[:3]):
            body = verify_body(text, task=task, rollout=rollout, rubric=rubric)
            verified.append(httpx.post(f"{server.url}/verify", json=body, timeout=30).json())
    reply = httpx.post(
        f"{server.url}/aggregate_metrics", json={"verify_responses": verified}, timeout=30
    )
    assert reply.status_code == 200, reply.text
    metrics = reply.json()
    assert set(metrics) == {"group_level_metrics", "agent_metrics", "key_metrics"}
    rewards = [v["reward"] for v in verified]
    overall = metrics["agent_metrics"]
    assert overall["mean/reward"] == pytest.approx(statistics.fmean(rewards))
    assert overall["std/reward"] == pytest.approx(statistics.stdev(rewards))
    assert overall["median/reward"] == pytest.approx(statistics.median(rewards))
    assert overall["mean/mask_sample"] == 0.0
    assert metrics["key_metrics"]["mean/reward"] == overall["mean/reward"]
    groups = metrics["group_level_metrics"]
    assert [g["_ng_task_index"] for g in groups] == [0, 1]
    for group, task_rewards in zip(groups, (rewards[:3], rewards[3:]), strict=True):
        assert group["mean/reward"] == pytest.approx(statistics.fmean(task_rewards))
        assert group["max/reward"] == max(task_rewards) and group["min/reward"] == min(task_rewards)
    empty = httpx.post(f"{server.url}/aggregate_metrics", json={"verify_responses": []}, timeout=30)
    assert empty.status_code == 200 and empty.json() == {
        "group_level_metrics": [],
        "agent_metrics": {},
        "key_metrics": {},
    }
    missing = httpx.post(f"{server.url}/aggregate_metrics", json={}, timeout=30)
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "verify_responses"
