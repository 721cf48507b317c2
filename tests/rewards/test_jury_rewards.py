"""Rewards from a jury declared in the settings, against loopback judge servers."""

import asyncio
import json

from rubricate.rewards import RewardEngine
from rubricate.settings import JudgeSettings
from tests.helpers import make_sample
from tests.support.judge_server import JudgeServer


def test_reward_engine_from_settings_grades_with_the_jury(tmp_path) -> None:
    # Criterion 1 of each sample is met for two judges of three, criterion 2 for one.
    def judge(misses):
        return lambda _id, text, _msg: "not_met" if text[-1] in misses else "met"

    with (
        JudgeServer(decide=judge("")) as a,
        JudgeServer(decide=judge("2")) as b,
        JudgeServer(decide=judge("12")) as c,
    ):
        jury = tmp_path / "jury.json"
        members = [{"url": s.url, "model": f"m{i}"} for i, s in enumerate((a, b, c))]
        jury.write_text(json.dumps({"judges": members, "rule": "majority"}))
        settings = JudgeSettings(jury=jury, cache=tmp_path / "c.sqlite")

        async def run():
            engine = RewardEngine.from_settings(settings)
            try:
                return await engine.rewards([make_sample("s", [1, 1, 1])])
            finally:
                await engine.aclose()

        (outcome,) = asyncio.run(run())
        assert [a.requests, b.requests, c.requests] == [3, 3, 3]
    verdicts = [r.verdict for r in outcome.result.verdicts]
    assert verdicts == ["met", "met", "not_met"]
    assert outcome.reward == 2 / 3
    assert outcome.result.judge.startswith("jury:majority[")
    assert all(len(r.jury or []) == 3 for r in outcome.result.verdicts)
