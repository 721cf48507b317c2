"""The reward server over real HTTP: endpoints, shared judge and cache, backpressure, deadlines,
auth, limits, error messages and metrics."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import httpx
import pytest

from rubricate.rewards import Shaping
from tests.rewards.rows import QUESTION, RESPONSES, RUBRIC, own_scores
from tests.server.conftest import Serve
from tests.support.judge_server import JudgeServer, default_decide

CHATML_PROMPT = "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n"


def openrlhf_body(responses: list[str], label: Any = None) -> dict[str, Any]:
    """What OpenRLHF sends: query = decoded prompt + response tokens (special tokens kept)."""
    label = json.dumps(RUBRIC) if label is None else label
    return {
        "query": [CHATML_PROMPT + text + "<|im_end|>" for text in responses],
        "prompts": [CHATML_PROMPT] * len(responses),
        "labels": [label] * len(responses),
    }


def native_sample(text: str, **extra: Any) -> dict[str, Any]:
    return {"prompt": QUESTION, "response": text, "rubric": RUBRIC, **extra}


def test_get_reward_equals_rubricate_grading(judge_server: JudgeServer, serve: Serve) -> None:
    server = serve(judge_server.url)
    reply = httpx.post(f"{server.url}/get_reward", json=openrlhf_body(RESPONSES), timeout=30)
    assert reply.status_code == 200, reply.text
    data = reply.json()
    expected = own_scores(judge_server.url, RESPONSES)
    assert data["rewards"] == pytest.approx(expected)
    # scores feed OpenRLHF's dynamic filtering, which expects [0, 1]: a met pitfall clips at 0
    assert min(expected) < 0 and data["scores"] == pytest.approx(
        [min(1, max(0, e)) for e in expected]
    )
    logs = data["extra_logs"]
    assert set(logs) == {"rubric_score", "ungradable", "n_errors", "gate_failed"}
    assert all(
        len(v) == len(RESPONSES) and all(isinstance(x, float) for x in v) for v in logs.values()
    )


def test_labels_may_name_rubrics_from_the_startup_file(
    judge_server: JudgeServer, serve: Serve, tmp_path
) -> None:
    book = tmp_path / "rubrics.jsonl"
    book.write_text(json.dumps({"id": "q-add", "rubric": RUBRIC, "prompt": QUESTION}) + "\n")
    server = serve(judge_server.url, rubrics=book)
    reply = httpx.post(
        f"{server.url}/get_reward", json=openrlhf_body(RESPONSES[:2], label="q-add"), timeout=30
    )
    assert reply.json()["rewards"] == pytest.approx(own_scores(judge_server.url, RESPONSES[:2]))


def test_native_grade_and_reward(judge_server: JudgeServer, serve: Serve) -> None:
    server = serve(judge_server.url, shaping=Shaping(clip=True))
    body = {"samples": [native_sample(t) for t in RESPONSES[:3]]}
    graded = httpx.post(f"{server.url}/v1/grade", json=body, timeout=30).json()["results"]
    assert [len(r["verdicts"]) for r in graded] == [len(RUBRIC)] * 3
    assert {v["verdict"] for r in graded for v in r["verdicts"]} <= {"met", "not_met"}
    rewarded = httpx.post(f"{server.url}/v1/reward", json=body, timeout=30).json()
    expected = own_scores(judge_server.url, RESPONSES[:3])
    assert rewarded["scores"] == pytest.approx(expected)
    assert rewarded["rewards"] == pytest.approx([min(1.0, max(0.0, s)) for s in expected])


def test_ungradable_samples_fall_back_in_openrlhf_and_stay_null_natively(serve: Serve) -> None:
    # Replies without a verdict: the judge is up, the samples are ungradable. (A judge that is
    # down gets a 503 instead: tests/server/test_judge_down.py.)
    with JudgeServer(fault_rate=1.0, faults=("garbage",)) as judge:
        server = serve(judge.url, shaping=Shaping(fallback=-0.5))
        data = httpx.post(
            f"{server.url}/get_reward", json=openrlhf_body(RESPONSES[:1]), timeout=30
        ).json()
        native = httpx.post(
            f"{server.url}/v1/reward", json={"samples": [native_sample("x")]}, timeout=30
        ).json()
    assert data["rewards"] == [-0.5] and data["extra_logs"]["ungradable"] == [1.0]
    assert native["rewards"] == [None] and native["n_errors"] == [len(RUBRIC)]


def test_concurrent_requests_share_one_judge_and_cache(
    judge_server: JudgeServer, serve: Serve
) -> None:
    server = serve(judge_server.url)

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=60) as client:
            body = openrlhf_body(RESPONSES[:1])
            return await asyncio.gather(
                *(client.post(f"{server.url}/get_reward", json=body) for _ in range(16))
            )

    replies = asyncio.run(burst())
    assert {r.status_code for r in replies} == {200}
    assert len({json.dumps(r.json()) for r in replies}) == 1
    assert judge_server.requests == len(RUBRIC)  # each judgment made once: deduplicated or cached
    metrics = httpx.get(f"{server.url}/metrics").text
    shared = _metric(metrics, "rubricate_deduplicated_total") + _metric(
        metrics, "rubricate_cache_hits_total"
    )
    assert shared == 15 * len(RUBRIC)


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in metrics")


class Gate:
    """A judge whose answers wait until the test opens the gate (deterministic overlap)."""

    def __init__(self) -> None:
        self.open = threading.Event()

    def decide(self, criterion_id: str, text: str, message: str) -> str:
        self.open.wait(timeout=30)
        return default_decide(criterion_id, text, message)


def _wait_until_pending(url: str, headers: dict[str, str] | None = None) -> None:
    for _ in range(500):
        if httpx.get(f"{url}/healthz", headers=headers).json()["queue"]["pending"] > 0:
            return
        threading.Event().wait(0.01)
    raise AssertionError("the first request never got admitted")


def test_full_queue_answers_503_with_retry_after_and_oversized_413(serve: Serve) -> None:
    gate = Gate()
    with JudgeServer(decide=gate.decide) as judge:
        # max_queued=0: /get_reward refuses like the native endpoints instead of queueing
        server = serve(judge.url, max_pending=len(RUBRIC) + 2, max_queued=0)
        first: dict[str, httpx.Response] = {}
        worker = threading.Thread(
            target=lambda: first.setdefault(
                "r",
                httpx.post(
                    f"{server.url}/get_reward", json=openrlhf_body(RESPONSES[:1]), timeout=60
                ),
            )
        )
        worker.start()
        _wait_until_pending(server.url)
        refused = httpx.post(
            f"{server.url}/get_reward", json=openrlhf_body(RESPONSES[1:2]), timeout=30
        )
        too_big = httpx.post(
            f"{server.url}/get_reward", json=openrlhf_body(RESPONSES[:2]), timeout=30
        )
        gate.open.set()
        worker.join(timeout=60)
        after = httpx.post(
            f"{server.url}/get_reward", json=openrlhf_body(RESPONSES[1:2]), timeout=30
        )
        metrics = httpx.get(f"{server.url}/metrics").text
    assert refused.status_code == 503 and int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"]["code"] == "overloaded"
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "too_many_criteria"
    assert first["r"].status_code == 200 and after.status_code == 200
    assert 'rubricate_rejected_total{reason="queue_full"} 1' in metrics
    assert "rubricate_queue_depth 0" in metrics


def test_deadline_gives_504_and_the_work_still_lands_in_the_cache(serve: Serve) -> None:
    gate = Gate()
    with JudgeServer(decide=gate.decide) as judge:
        server = serve(judge.url)
        body = openrlhf_body(RESPONSES[:1])
        late = httpx.post(
            f"{server.url}/get_reward",
            json=body,
            headers={"X-Rubricate-Deadline": "0.05"},
            timeout=30,
        )
        gate.open.set()
        for _ in range(500):  # bounded wait for the abandoned judgments to finish
            if httpx.get(f"{server.url}/healthz").json()["queue"]["pending"] == 0:
                break
            threading.Event().wait(0.01)
        retry = httpx.post(f"{server.url}/get_reward", json=body, timeout=30)
        calls = judge.requests
    assert late.status_code == 504 and late.json()["error"]["code"] == "deadline_exceeded"
    assert retry.status_code == 200 and calls == len(RUBRIC)  # the retry was served from the cache


def test_bearer_token_guards_everything_but_healthz(
    judge_server: JudgeServer, serve: Serve
) -> None:
    server = serve(judge_server.url, api_key="s3cret")
    body = openrlhf_body(RESPONSES[:1])
    assert httpx.post(f"{server.url}/get_reward", json=body).status_code == 401
    wrong = httpx.post(
        f"{server.url}/get_reward", json=body, headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert httpx.get(f"{server.url}/metrics").status_code == 401
    good = httpx.post(
        f"{server.url}/get_reward",
        json=body,
        headers={"Authorization": "Bearer s3cret"},
        timeout=30,
    )
    assert good.status_code == 200
    assert httpx.get(f"{server.url}/healthz").status_code == 200


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        (b"{not json", 400, None),
        ({"query": "one string"}, 422, "query"),
        ({"query": ["a", 3]}, 422, "query[1]"),
        ({"query": ["a", "b"], "labels": ["x"]}, 422, "body"),
        ({"query": ["a"], "prompts": ["a"]}, 422, "labels"),
        (
            {
                "query": ["a", "b"],
                "prompts": ["", ""],
                "labels": [json.dumps(RUBRIC), "no-such-id"],
            },
            422,
            "labels[1]",
        ),
        (
            {"query": ["a"], "labels": [json.dumps([{"criterion": "x", "points": "many"}])]},
            422,
            "labels[0]",
        ),
    ],
)
def test_malformed_openrlhf_payloads_name_the_field(
    judge_server: JudgeServer, serve: Serve, payload: Any, status: int, field: str | None
) -> None:
    server = serve(judge_server.url)
    content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    reply = httpx.post(
        f"{server.url}/get_reward", content=content, headers={"content-type": "application/json"}
    )
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert error.get("field") == field
    if field:
        assert field in error["message"]


def test_malformed_native_payloads_and_body_limit(judge_server: JudgeServer, serve: Serve) -> None:
    server = serve(judge_server.url, max_body_bytes=2000)
    missing = httpx.post(
        f"{server.url}/v1/reward", json={"samples": [{"prompt": "hi", "rubric": RUBRIC}]}
    )
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "samples[0].response"
    no_rubric = httpx.post(
        f"{server.url}/v1/grade", json={"samples": [{"prompt": "hi", "response": "x"}]}
    )
    assert (
        no_rubric.status_code == 422 and no_rubric.json()["error"]["field"] == "samples[0].rubric"
    )
    bad_prompt = httpx.post(
        f"{server.url}/v1/grade", json={"samples": [native_sample("x", prompt=[{"role": "user"}])]}
    )
    assert bad_prompt.json()["error"]["field"] == "samples[0].prompt[0].content"
    big = httpx.post(f"{server.url}/v1/grade", json={"samples": [native_sample("x" * 5000)]})
    assert big.status_code == 413 and big.json()["error"]["code"] == "payload_too_large"

    def chunks():  # no content-length: the limit holds for streamed bodies too
        yield b'{"samples": ['
        for _ in range(100):
            yield b" " * 100
        yield b"]}"

    streamed = httpx.post(
        f"{server.url}/v1/grade", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413


def test_metrics_are_prometheus_text(judge_server: JudgeServer, serve: Serve) -> None:
    server = serve(judge_server.url)
    httpx.post(f"{server.url}/get_reward", json=openrlhf_body(RESPONSES[:2]), timeout=30)
    httpx.post(f"{server.url}/get_reward", json={"query": 1})
    reply = httpx.get(f"{server.url}/metrics")
    assert reply.headers["content-type"].startswith("text/plain")
    text = reply.text
    assert 'rubricate_requests_total{endpoint="/get_reward",status="200"} 1' in text
    assert 'rubricate_requests_total{endpoint="/get_reward",status="422"} 1' in text
    assert 'rubricate_request_duration_seconds_bucket{endpoint="/get_reward",le="+Inf"} 2' in text
    assert "# TYPE rubricate_request_duration_seconds histogram" in text
    assert _metric(text, "rubricate_judge_calls_total") == 2 * len(RUBRIC)
    assert _metric(text, "rubricate_samples_total") == 2
    for name in (
        "cache_hits_total",
        "criterion_errors_total",
        "queue_depth",
        "queue_capacity",
        "requests_in_flight",
    ):
        _metric(text, f"rubricate_{name}")
    health = httpx.get(f"{server.url}/healthz").json()
    assert health["status"] == "ok" and health["judge"].startswith("openai:stub")
