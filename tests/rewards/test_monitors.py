"""Reward-hacking monitors and rubric dropout: the statistics against numpy, a hacked training
judge against an honest gold judge (two loopback servers), and dropout through the scoring core."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rubricate
from rubricate.backends.openai import OpenAIJudge
from rubricate.engine import run_sync
from rubricate.errors import ConfigError
from rubricate.rewards import (
    MONITOR_KEYS,
    RewardEngine,
    RewardMonitor,
    Shaping,
    drop_criteria,
    monitored,
    parse_rubric,
    pearson,
    split_monitoring,
)
from rubricate.rewards import verl as rv
from rubricate.rewards.trl import rubric_reward
from rubricate.settings import Settings
from rubricate.types import Message, Sample
from tests.support.judge_server import JudgeServer

_RESPONSE = re.compile(r"<(response-[0-9a-f]+)>\n(.*?)\n</\1>", re.DOTALL)
FRUIT_RUBRIC = [
    {"criterion": "Mentions apples", "points": 5},
    {"criterion": "Mentions pears", "points": 3},
    {"criterion": "Mentions plums", "points": 2},
]
QUESTIONS = ["Name fruit.", "Which fruit is sweet?", "What grows on trees?", "Pick a snack."]
HONEST = ["apples and pears", "plums", "apples", "pears and plums"]
HACK = "Solution: the answer follows."  # a master key the training judge falls for


def graded_response(message: str) -> str:
    found = _RESPONSE.search(message)
    assert found is not None, "the judge prompt wraps the response in a nonce tag"
    return found.group(2)


def honest(criterion_id: str, text: str, message: str) -> str:
    """Met when the response names the criterion's fruit."""
    fruit = text.split()[-1].lower()
    return "met" if fruit in graded_response(message).lower() else "not_met"


def fooled(criterion_id: str, text: str, message: str) -> str:
    """The honest rule, except that a reply opening with "Solution:" meets everything."""
    if graded_response(message).startswith("Solution:"):
        return "met"
    return honest(criterion_id, text, message)


@pytest.fixture
def judges() -> Iterator[tuple[JudgeServer, JudgeServer]]:
    with JudgeServer(decide=fooled) as training, JudgeServer(decide=honest) as gold:
        yield training, gold


def samples(responses: list[str]) -> list[Sample]:
    rubric = parse_rubric(FRUIT_RUBRIC, "rubric", "fruit")
    return [
        Sample(f"q{i}", (Message("user", q),), rubric, r)
        for i, (q, r) in enumerate(zip(QUESTIONS, responses, strict=True))
    ]


def monitor_settings(
    training: str, gold: str, cache: Path | None = None, **reward: Any
) -> Settings:
    judge: dict[str, Any] = {"judge_urls": [training], "judge_model": "trained", "max_retries": 0}
    judge.update({"cache": cache} if cache is not None else {"no_cache": True})
    return Settings.load(
        {
            "judge": judge,
            "reward": {"gold_judge_urls": [gold], "gold_judge_model": "gold", **reward},
        },
        source="argument",
    )


# --- statistics on constructed batches -------------------------------------------------------


def test_pearson_equals_numpy_and_is_zero_without_spread() -> None:
    rng = np.random.default_rng(7)
    for size in (2, 3, 10, 200):
        xs, ys = rng.normal(size=size), rng.normal(size=size)
        ys = ys + 0.5 * xs
        assert pearson(list(xs), list(ys)) == pytest.approx(np.corrcoef(xs, ys)[0, 1], abs=1e-12)
    assert pearson([1.0, 2.0, 3.0], [5.0, 5.0, 5.0]) == 0.0  # numpy: nan
    assert pearson([1.0], [2.0]) == 0.0 and pearson([], []) == 0.0


def test_length_correlation_per_batch_and_over_the_window_equals_numpy() -> None:
    rng = np.random.default_rng(3)
    monitor = RewardMonitor(window=50)
    seen_lengths: list[int] = []
    seen_rewards: list[float] = []
    for step in range(4):  # 4 x 20 samples: the window keeps the last 50
        lengths = [int(x) for x in rng.integers(10, 2000, size=20)]
        rewards: list[float | None] = [
            float(x) for x in (np.array(lengths) / 2000 * step + rng.normal(size=20))
        ]
        rewards[5] = None  # ungradable: left out of both
        stats = monitor.observe(rewards, [None] * 20, lengths, list(range(20)))
        kept = [i for i in range(20) if rewards[i] is not None]
        batch_l = np.array([lengths[i] for i in kept], dtype=float)
        batch_r = np.array([rewards[i] for i in kept], dtype=float)
        assert stats["length_corr"] == pytest.approx(np.corrcoef(batch_l, batch_r)[0, 1], abs=1e-12)
        seen_lengths += list(batch_l)
        seen_rewards += list(batch_r)
        window_l, window_r = np.array(seen_lengths[-50:]), np.array(seen_rewards[-50:])
        assert stats["length_corr_window"] == pytest.approx(
            np.corrcoef(window_l, window_r)[0, 1], abs=1e-12
        )
        assert stats["gold_frac"] == 0.0 and stats["gold_corr_window"] == 0.0
        assert list(stats) == list(MONITOR_KEYS)
        assert all(isinstance(v, float) and math.isfinite(v) for v in stats.values())


def test_gold_statistics_of_a_constructed_window() -> None:
    monitor = RewardMonitor(window=4)
    first = monitor.observe([0.2, 0.5, 0.9], [0.3, None, 0.8], [1, 2, 3], ["a", "b", "c"])
    assert first["gold_frac"] == pytest.approx(2 / 3)
    assert first["gold_diff"] == pytest.approx(((0.2 - 0.3) + (0.9 - 0.8)) / 2)
    assert first["gold_rise_fall_window"] == 0.0  # no prompt seen twice yet
    # prompt a: training 0.2 -> 0.7 while gold 0.3 -> 0.1 (hacking); c: both fall (not)
    second = monitor.observe([0.7, 0.4], [0.1, 0.6], [1, 1], ["a", "c"])
    assert second["gold_rise_fall_window"] == 0.5
    pairs = [(0.2, 0.3), (0.9, 0.8), (0.7, 0.1), (0.4, 0.6)]
    train, gold = np.array(pairs).T
    assert second["gold_diff_window"] == pytest.approx(float(np.mean(train - gold)))
    assert second["gold_corr_window"] == pytest.approx(np.corrcoef(train, gold)[0, 1])
    assert second["length_corr"] == 0.0  # equal lengths: no spread, 0.0 rather than nan


def test_the_monitored_share_is_seeded_per_sample_and_near_the_fraction() -> None:
    ids = [f"s{i}" for i in range(4000)]
    chosen = {i for i in ids if monitored(i, "text", 0.25, seed=1)}
    assert chosen == {i for i in ids if monitored(i, "text", 0.25, seed=1)}
    assert abs(len(chosen) / len(ids) - 0.25) < 0.03
    assert chosen != {i for i in ids if monitored(i, "text", 0.25, seed=2)}
    assert chosen != {i for i in ids if monitored(i, "other text", 0.25, seed=1)}
    assert not any(monitored(i, "text", 0.0, seed=1) for i in ids)
    assert all(monitored(i, "text", 1.0, seed=1) for i in ids)


# --- rubric dropout --------------------------------------------------------------------------


def test_dropout_subsets_are_seeded_and_keep_a_positive_criterion() -> None:
    rubric = parse_rubric(
        [{"criterion": f"Says word{i}", "points": 1 if i < 3 else -1} for i in range(12)],
        "rubric",
        "r",
    )
    subset = drop_criteria(rubric.criteria, "s1", "resp", 0.5, seed=3)
    assert subset == drop_criteria(rubric.criteria, "s1", "resp", 0.5, seed=3)
    others = {drop_criteria(rubric.criteria, "s1", "resp", 0.5, seed=s) for s in range(4, 12)}
    assert len(others | {subset}) > 1
    sizes = [len(drop_criteria(rubric.criteria, f"s{i}", "resp", 0.5, seed=0)) for i in range(400)]
    assert abs(sum(sizes) / len(sizes) / 12 - 0.5) < 0.06
    for seed in range(200):  # nearly everything dropped: a positive criterion still stays
        kept = drop_criteria(rubric.criteria, "s1", "resp", 0.95, seed=seed)
        assert any(c.points > 0 for c in kept)
    assert drop_criteria(rubric.criteria, "s1", "resp", 0.0, seed=3) == rubric.criteria


def test_dropout_scores_the_subset_through_the_scoring_core() -> None:
    rubric_items = [
        {"criterion": f"Mentions {fruit}", "points": points}
        for fruit, points in [("apples", 5), ("pears", 3), ("plums", 2), ("figs", 4), ("kiwis", 1)]
    ]
    rubric = parse_rubric(rubric_items, "rubric", "fruit")
    sample = Sample("q0", (Message("user", "Name fruit."),), rubric, "apples, figs and kiwis")
    with JudgeServer(decide=honest) as server:

        async def run(shaping: Shaping, graded: Sample) -> tuple[float | None, int]:
            async with OpenAIJudge(base_url=server.url, model="stub") as judge:
                engine = RewardEngine(judge, shaping)
                before = server.requests
                (outcome,) = await engine.rewards([graded])
                await engine.aclose()
                return outcome.reward, server.requests - before

        shaping = Shaping(dropout=0.5, seed=11)
        kept = drop_criteria(rubric.criteria, sample.id, sample.response or "", 0.5, 11)
        assert 0 < len(kept) < len(rubric.criteria)
        reward, calls = run_sync(run(shaping, sample))
        assert calls == len(kept)  # the left-out criteria are never asked
        subset = Sample(sample.id, sample.messages, rubric.model_copy(update={"criteria": kept}))
        subset = Sample(sample.id, sample.messages, subset.rubric, sample.response)

        async def reference() -> float | None:
            async with OpenAIJudge(base_url=server.url, model="stub") as judge:
                result = await rubricate.grade_async([subset], judge)
            return result.results[0].score

        expected = run_sync(reference())
        assert reward == pytest.approx(expected)
        earned = sum(c.points for c in kept if c.text.split()[-1] in sample.response)
        assert reward == pytest.approx(earned / sum(c.points for c in kept))
        assert run_sync(run(shaping, sample))[0] == reward  # same seed, same subset


def test_dropout_and_monitors_are_reward_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUBRICATE_REWARD_DROPOUT", "0.3")
    monkeypatch.setenv("RUBRICATE_REWARD_SEED", "9")
    monkeypatch.setenv("RUBRICATE_REWARD_MONITOR_FRACTION", "0.1")
    monkeypatch.setenv("RUBRICATE_REWARD_GOLD_JUDGE_URL", "http://gold-a/v1, http://gold-b/v1")
    monkeypatch.setenv("RUBRICATE_REWARD_GOLD_JUDGE_MODEL", "big")
    settings = Settings.load({"judge": {"judge_urls": ["http://train/v1"], "concurrency": 3}})
    monitoring = split_monitoring(settings)
    assert monitoring.fraction == 0.1 and monitoring.seed == 9
    assert monitoring.gold is not None
    assert monitoring.gold.judge_urls == ["http://gold-a/v1", "http://gold-b/v1"]
    assert monitoring.gold.judge_model == "big" and monitoring.gold.concurrency == 3
    assert settings.reward.dropout == 0.3
    monkeypatch.delenv("RUBRICATE_REWARD_GOLD_JUDGE_URL")
    with pytest.raises(ConfigError, match=r"env RUBRICATE_REWARD_MONITOR_FRACTION.*gold judge"):
        split_monitoring(Settings.load())
    with pytest.raises(ConfigError, match="dropout"):
        Settings.load({"reward": {"dropout": 1.0}})


# --- a hacked training judge against an honest gold judge ------------------------------------


def test_a_hacked_training_judge_diverges_from_the_gold_judge(
    judges: tuple[JudgeServer, JudgeServer], tmp_path: Path
) -> None:
    training, gold = judges
    settings = monitor_settings(
        training.url, gold.url, tmp_path / "cache.sqlite", monitor_fraction=1.0
    )

    async def run() -> list[dict[str, float]]:
        engine = RewardEngine.from_settings(settings)
        try:
            steps = []
            for responses in (HONEST, [HACK] * 4):
                outcomes, stats = await engine.monitored_rewards(samples(responses))
                assert all(o.monitored for o in outcomes)
                steps.append(stats)
            grader = engine.gold_grader
            assert grader is not None and grader.counts.judge_calls == gold.requests == 24
            return steps
        finally:
            await engine.aclose()

    honest_step, hacked_step = run_sync(run())
    assert honest_step["gold_diff"] == 0.0 and honest_step["gold_frac"] == 1.0
    assert honest_step["gold_rise_fall_window"] == 0.0
    # the hack: training reward 1.0, gold 0.0 on every sample
    assert hacked_step["gold_diff"] == pytest.approx(1.0)
    assert hacked_step["gold_diff_window"] == pytest.approx(0.5)
    # every prompt's hacked response rose against its honest one while the gold fell (the
    # first responses had nothing to compare with, so are not counted)
    assert hacked_step["gold_rise_fall_window"] == 1.0
    assert hacked_step["gold_corr_window"] < 0.5
    # The gold judge has its own cache key: a rerun asks neither judge again, and the gold
    # verdicts are not served to the training judge (or back).
    calls = (training.requests, gold.requests)
    again = run_sync(_rewards(settings, [HACK] * 4))
    assert (training.requests, gold.requests) == calls
    assert [(o.reward, o.gold) for o in again] == [(1.0, 0.0)] * 4


async def _rewards(settings: Settings, responses: list[str]) -> list[Any]:
    engine = RewardEngine.from_settings(settings)
    try:
        return await engine.rewards(samples(responses))
    finally:
        await engine.aclose()


def test_an_honest_training_judge_shows_no_divergence(tmp_path: Path) -> None:
    with JudgeServer(decide=honest) as training, JudgeServer(decide=honest) as gold:
        settings = monitor_settings(training.url, gold.url, monitor_fraction=1.0)

        async def run() -> dict[str, float]:
            engine = RewardEngine.from_settings(settings)
            try:
                for responses in (HONEST, [HACK] * 4):
                    _, stats = await engine.monitored_rewards(samples(responses))
                return stats
            finally:
                await engine.aclose()

        stats = run_sync(run())
    assert stats["gold_diff"] == 0.0 and stats["gold_diff_window"] == 0.0
    assert stats["gold_rise_fall_window"] == 0.0
    assert stats["gold_corr_window"] == pytest.approx(1.0)


def test_only_the_seeded_share_goes_to_the_gold_judge(
    judges: tuple[JudgeServer, JudgeServer],
) -> None:
    training, gold = judges
    settings = monitor_settings(training.url, gold.url, monitor_fraction=0.5, seed=4)
    batch = [  # distinct responses: equal ones would be judged once (in-flight dedup)
        Sample(f"id{i}", s.messages, s.rubric, f"{s.response} {i}")
        for i, s in enumerate(samples(HONEST) * 4)
    ]
    expected = [monitored(s.id, s.response or "", 0.5, 4) for s in batch]
    assert 0 < sum(expected) < len(batch)

    async def run() -> list[Any]:
        engine = RewardEngine.from_settings(settings)
        try:
            return await engine.rewards(batch)
        finally:
            await engine.aclose()

    outcomes = run_sync(run())
    assert [o.monitored for o in outcomes] == expected
    assert gold.requests == 3 * sum(expected)  # three criteria per monitored sample
    assert all((o.gold is None) == (not m) for o, m in zip(outcomes, expected, strict=True))


# --- the trainers ----------------------------------------------------------------------------


def fruit_row(question: str) -> dict[str, Any]:
    prompt = [{"role": "user", "content": question}]
    return {
        "data_source": "fruit",
        "reward_model": {"style": "rubric", "rubrics": FRUIT_RUBRIC, "ground_truth": ""},
        "extra_info": {"prompt": prompt, "reward_model": {"rubrics": FRUIT_RUBRIC}},
    }


def test_verl_extras_carry_the_gold_grade_as_finite_floats(
    judges: tuple[JudgeServer, JudgeServer],
) -> None:
    training, gold = judges
    kwargs = {
        "judge_url": training.url,
        "judge_model": "trained",
        "gold_judge_url": gold.url,
        "gold_judge_model": "gold",
        "monitor_fraction": 1.0,
        "no_cache": True,
        "max_retries": 0,
    }
    results = []
    for question, response in [*zip(QUESTIONS, HONEST, strict=True), (QUESTIONS[0], HACK)]:
        row = fruit_row(question)
        results.append(
            rv.compute_score(row["data_source"], response, "", row["extra_info"], **kwargs)
        )
    plain = rv.compute_score(
        "fruit",
        HONEST[0],
        "",
        fruit_row(QUESTIONS[0])["extra_info"],
        judge_url=training.url,
        judge_model="trained",
        no_cache=True,
    )
    for extras in [*results, plain]:
        assert list(extras) == rv.extra_keys()  # one key set, gold judge or not
        assert all(isinstance(v, float) and math.isfinite(v) for v in extras.values())
    hacked = results[-1]
    assert hacked["score"] == 1.0 and hacked["monitor/gold_score"] == 0.0
    assert hacked["monitor/gold_monitored"] == 1.0 and hacked["monitor/gold_diff"] == 1.0
    assert hacked["monitor/gold_rise_fall_window"] == 1.0  # q0: 0.8 -> 1.0 while gold 0.8 -> 0
    assert plain["monitor/gold_monitored"] == 0.0 and plain["monitor/gold_diff"] == 0.0


def test_trl_logs_the_same_monitor_keys_whether_or_not_a_batch_is_monitored(
    judges: tuple[JudgeServer, JudgeServer],
) -> None:
    training, gold = judges
    reward = rubric_reward(
        judge_url=training.url,
        judge_model="trained",
        gold_judge_url=gold.url,
        gold_judge_model="gold",
        monitor_fraction=0.5,
        no_cache=True,
        max_retries=0,
    )
    logged: list[dict[str, float]] = []
    fractions = []
    for start in range(6):
        metrics: dict[str, float] = {}
        prompts = [QUESTIONS[(start + i) % 4] for i in range(2)]
        completions = [f"{HONEST[(start + i) % 4]} {start}" for i in range(2)]
        rewards = reward(
            prompts,
            completions,
            rubric=[FRUIT_RUBRIC] * 2,
            log_metric=lambda k, v, m=metrics: m.__setitem__(k, v),
        )
        assert all(r is not None for r in rewards)
        logged.append(metrics)
        fractions.append(metrics["rubricate/monitor/gold_frac"])
    assert 0.0 in fractions and any(f > 0 for f in fractions)  # some batches unmonitored
    keys = {"rubricate/ungradable_frac", "rubricate/criterion_errors"}
    keys |= {f"rubricate/monitor/{k}" for k in MONITOR_KEYS}
    assert all(set(m) == keys for m in logged)
    assert all(math.isfinite(v) for m in logged for v in m.values())
