"""Reward shaping is pure: clip, group normalization, fallback; gates come from the scoring core."""

from __future__ import annotations

import asyncio
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from rubricate.backends.scripted import ScriptedJudge
from rubricate.errors import ConfigError
from rubricate.rewards import RewardEngine, Shaping, normalize_groups, shape_scores, with_fallback
from rubricate.rewards._settings import reward_settings
from rubricate.rubric import Criterion, Rubric
from rubricate.scoring import score_sample
from rubricate.types import Message, Sample, Verdict

scores = st.lists(st.one_of(st.none(), st.floats(-3, 3, allow_nan=False)), min_size=1, max_size=12)


def test_clip_bounds_and_none_stays_none() -> None:
    assert shape_scores([-0.5, 0.3, 1.7, None], Shaping(clip=True)) == [0.0, 0.3, 1.0, None]
    assert shape_scores([-0.5, None], Shaping()) == [-0.5, None]


def test_zscore_within_groups() -> None:
    got = normalize_groups([1.0, 3.0, None, 10.0, 10.0], ["a", "a", "a", "b", "b"], "zscore")
    assert got == pytest.approx([-1.0, 1.0, None, 0.0, 0.0])


def test_rank_shares_ties_and_a_lone_sample_is_in_the_middle() -> None:
    assert normalize_groups([0.2, 0.9, 0.2, 0.5], None, "rank") == pytest.approx(
        [1 / 6, 1.0, 1 / 6, 2 / 3]
    )
    assert normalize_groups([0.4], None, "rank") == [0.5]


@hypothesis_settings(deadline=None)  # pure code; a loaded CI machine must not make it flaky
@given(scores)
def test_normalized_rewards_keep_order_and_range(values: list[float | None]) -> None:
    for method in ("zscore", "rank"):
        shaped = normalize_groups(values, None, method)
        present = [(v, s) for v, s in zip(values, shaped, strict=True) if v is not None]
        assert all(s is not None for _, s in present)
        assert [s for v, s in zip(values, shaped, strict=True) if v is None] == [
            None
        ] * values.count(None)
        for (a, sa), (b, sb) in pairwise(present):
            if a < b:
                assert sa <= sb + 1e-9
        if method == "rank":
            assert all(0.0 <= s <= 1.0 for _, s in present)
        elif present:
            assert sum(s for _, s in present) == pytest.approx(0.0, abs=1e-6)


def test_fallback_replaces_only_none() -> None:
    assert with_fallback([0.5, None], -1.0) == [0.5, -1.0]


def test_bad_shaping_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="normalize"):
        Shaping(normalize="minmax")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="fallback"):
        Shaping(fallback=float("nan"))
    with pytest.raises(ConfigError, match="group keys"):
        normalize_groups([1.0, 2.0], ["a"], "zscore")


def _gated_sample() -> Sample:
    criteria = (
        Criterion(id="safe", text="Gives safe advice", points=5, required=True),
        Criterion(id="kind", text="Is kind", points=5),
    )
    return Sample(
        "s", (Message("user", "q"),), Rubric(id="r", criteria=criteria, gate_floor=0.1), "a"
    )


def _engine(shaping: Shaping) -> RewardEngine:
    judge = ScriptedJudge(lambda cid, _text: "not_met" if cid == "safe" else "met")
    return RewardEngine(judge, shaping)


def test_gates_floor_the_reward_and_can_be_overridden_or_disabled() -> None:
    sample = _gated_sample()
    direct = score_sample(
        sample.rubric, {"safe": Verdict("safe", "not_met"), "kind": Verdict("kind", "met")}
    )
    (default,) = asyncio.run(_engine(Shaping()).rewards([sample]))
    (floored,) = asyncio.run(_engine(Shaping(gate_floor=-1.0)).rewards([sample]))
    (ungated,) = asyncio.run(_engine(Shaping(gates=False)).rewards([sample]))
    assert default.reward == direct.score == pytest.approx(0.1)
    assert floored.reward == -1.0
    assert ungated.reward == pytest.approx(0.5) and ungated.result.gate_failed == []


def test_soft_scores_ask_for_probabilities() -> None:
    settings, shaping = reward_settings(
        {"soft": "true", "judge_url": "http://x/v1", "judge_model": "m"}
    )
    assert shaping.soft and settings.soft and settings.probabilities
    options = settings.grade_options()
    assert options.soft and options.probabilities


def test_settings_precedence_kwargs_over_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUBRICATE_JUDGE_URL", "http://env/v1,http://env2/v1")
    monkeypatch.setenv("RUBRICATE_REWARD_NORMALIZE", "rank")
    monkeypatch.setenv("RUBRICATE_REWARD_AXES", "accuracy, safety")
    settings, shaping = reward_settings({"normalize": "zscore", "judge_model": "m"})
    assert settings.judge_urls == ["http://env/v1", "http://env2/v1"]
    assert shaping.normalize == "zscore" and shaping.axes == ("accuracy", "safety")
    with pytest.raises(ConfigError, match="clip"):
        reward_settings({"clip": "maybe"})
