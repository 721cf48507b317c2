"""TRL-shaped tournament rewards over HTTP: groups by prompt, calls per group as stated, cached."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path
from typing import Any

import pytest

from rubricate.errors import InputError
from rubricate.pairwise import calls_per_group
from rubricate.rewards.tournament import tournament_reward
from tests.support.judge_server import JudgeServer

_SEAT = re.compile(r"<(response-([AB])-[0-9a-f]+)>\n(.*?)\n</\1>", re.DOTALL)


def _longer_wins(body: dict[str, Any]) -> str:
    seats = {s: t for _, s, t in _SEAT.findall(body["messages"][1]["content"])}
    return "[[A>B]]" if len(seats["A"]) > len(seats["B"]) else "[[B>A]]"


def test_groups_play_their_own_tournaments(tmp_path: Path) -> None:
    prompts = ["Say something."] * 4 + [[{"role": "user", "content": "Count."}]] * 3
    completions = [
        "a",
        "aaaa",
        "aa",
        "aaa",
        [{"role": "assistant", "content": "1"}],
        "1 2",
        "1 2 3",
    ]
    with JudgeServer(respond=_longer_wins) as server:
        reward = tournament_reward(
            judge_url=server.url, judge_model="stub", cache=str(tmp_path / "c.sqlite")
        )
        pickle.dumps(reward)  # trainers may ship it to workers
        try:
            rewards = reward(prompts, completions)
            assert server.requests == calls_per_group(4) + calls_per_group(3) == 12 + 6
            assert rewards == [0.0, 1.0, 1 / 3, 2 / 3, 0.0, 0.5, 1.0]
            # The same batch again is answered from the cache.
            assert reward(prompts, completions) == rewards
            assert server.requests == 18
        finally:
            reward.close()


def test_bounded_opponents_bound_the_calls(tmp_path: Path) -> None:
    completions = ["x" * n for n in range(1, 9)]
    with JudgeServer(respond=_longer_wins) as server:
        reward = tournament_reward(
            judge_url=server.url,
            judge_model="stub",
            cache=str(tmp_path / "c.sqlite"),
            opponents=2,
            seed=7,
        )
        try:
            rewards = reward(["p"] * 8, completions)
        finally:
            reward.close()
        assert server.requests == calls_per_group(8, opponents=2) == 16
    assert rewards[0] == 0.0 and rewards[-1] == 1.0


def _shorter_wins(body: dict[str, Any]) -> str:
    seats = {s: t for _, s, t in _SEAT.findall(body["messages"][1]["content"])}
    return "[[A>B]]" if len(seats["A"]) < len(seats["B"]) else "[[B>A]]"


def test_a_jury_from_the_settings_decides_the_matches(tmp_path: Path) -> None:
    prompts, completions = ["Say something."] * 3, ["a", "aaa", "aa"]
    with (
        JudgeServer(respond=_longer_wins) as longer,
        JudgeServer(respond=_shorter_wins) as shorter,
    ):
        jury = tmp_path / "jury.json"
        members = [
            {"url": longer.url, "model": "l", "weight": 2},
            {"url": shorter.url, "model": "s"},
        ]
        jury.write_text(json.dumps({"judges": members, "rule": "weighted"}))
        reward = tournament_reward(jury=str(jury), cache=str(tmp_path / "c.sqlite"))
        try:
            assert reward(prompts, completions) == [0.0, 1.0, 0.5]  # the heavier judge's view
            assert [longer.requests, shorter.requests] == [6, 6]
        finally:
            reward.close()
        jury.write_text(json.dumps({"judges": members, "rule": "any"}))
        with pytest.raises(InputError, match="rule 'any' is not usable here"):
            tournament_reward(jury=str(jury))
