"""The reward server's monitors over real HTTP: a hacked training judge and an honest gold
judge (two loopback servers), gold grades in the replies, window gauges in ``/metrics``."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator

import httpx
import pytest

from rubricate.rewards import Monitoring
from rubricate.settings import JudgeSettings
from tests.rewards.test_monitors import FRUIT_RUBRIC, HACK, fooled, honest
from tests.server.conftest import Serve
from tests.server.test_nemo_gym import verify_body
from tests.support.judge_server import JudgeServer

CHATML = "<|im_start|>user\nName fruit.<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture
def judges() -> Iterator[tuple[JudgeServer, JudgeServer]]:
    with JudgeServer(decide=fooled) as training, JudgeServer(decide=honest) as gold:
        yield training, gold


def gold_monitoring(url: str, fraction: float = 1.0) -> Monitoring:
    gold = JudgeSettings(judge_urls=[url], judge_model="gold", max_retries=0, no_cache=True)
    return Monitoring(gold=gold, fraction=fraction, window=8)


def get_reward(url: str, responses: list[str]) -> dict[str, list[float]]:
    body = {
        "query": [CHATML + text + "<|im_end|>" for text in responses],
        "prompts": [CHATML] * len(responses),
        "labels": [json.dumps(FRUIT_RUBRIC)] * len(responses),
    }
    reply = httpx.post(f"{url}/get_reward", json=body, timeout=30)
    assert reply.status_code == 200, reply.text
    data: dict[str, list[float]] = reply.json()["extra_logs"]
    return data


def gauges(url: str) -> dict[str, float]:
    text = httpx.get(f"{url}/metrics", timeout=30).text
    found = re.findall(r"^rubricate_((?:monitor|gold)_\w+) (\S+)$", text, re.MULTILINE)
    return {name: float(value) for name, value in found}


def test_get_reward_reports_the_gold_grade_and_metrics_the_divergence(
    judges: tuple[JudgeServer, JudgeServer], serve: Serve
) -> None:
    training, gold = judges
    server = serve(training.url, cache=False, monitoring=gold_monitoring(gold.url))
    first = get_reward(server.url, ["apples and pears", "plums"])
    assert first["gold_monitored"] == [1.0, 1.0]
    assert first["gold_score"] == pytest.approx([0.8, 0.2]) and first["gold_diff"] == [0.0, 0.0]
    hacked = get_reward(server.url, [HACK])
    assert hacked["rubric_score"] == [1.0] and hacked["gold_score"] == [0.0]
    assert hacked["gold_diff"] == [1.0]
    metrics = gauges(server.url)
    assert metrics["gold_samples_total"] == 3.0
    assert metrics["gold_judge_calls_total"] == gold.requests == 9
    assert metrics["monitor_gold_diff_window"] == pytest.approx(1 / 3)
    # the hack rose against the last response to the same prompt (plums: 0.2) as gold fell
    assert metrics["monitor_gold_rise_fall_window"] == 0.5
    assert all(math.isfinite(v) for v in metrics.values())


def test_without_a_gold_judge_the_keys_stay_and_read_zero(
    judges: tuple[JudgeServer, JudgeServer], serve: Serve
) -> None:
    training, gold = judges
    server = serve(training.url, cache=False)
    logs = get_reward(server.url, [HACK, "apples"])
    assert logs["gold_monitored"] == [0.0, 0.0] and logs["gold_diff"] == [0.0, 0.0]
    metrics = gauges(server.url)
    assert metrics["gold_samples_total"] == 0.0 and metrics["gold_judge_calls_total"] == 0.0
    assert metrics["monitor_gold_corr_window"] == 0.0
    assert metrics["monitor_length_corr_window"] == pytest.approx(1.0)  # the longer one won
    assert gold.requests == 0


def test_verify_replies_carry_the_gold_grade_as_top_level_numbers(
    judges: tuple[JudgeServer, JudgeServer], serve: Serve
) -> None:
    training, gold = judges
    server = serve(training.url, cache=False, monitoring=gold_monitoring(gold.url))
    body = verify_body(HACK, rubric=FRUIT_RUBRIC)
    reply = httpx.post(f"{server.url}/verify", json=body, timeout=30)
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert data["reward"] == 1.0
    assert (data["gold_monitored"], data["gold_score"], data["gold_diff"]) == (1.0, 0.0, 1.0)
