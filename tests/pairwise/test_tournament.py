"""Tournament rewards: schedules, bounded calls per group, win rates, position bias cancelling."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from rubricate.backends import ScriptedJudge
from rubricate.errors import ConfigError
from rubricate.pairwise import (
    CompareOptions,
    Comparer,
    Standing,
    calls_per_group,
    plan_matches,
    tournament,
)
from rubricate.types import JudgeRequest, Message
from tests.pairwise.conftest import shown

PROMPT = (Message("user", "Write a number."),)


def test_round_robin_by_default() -> None:
    assert plan_matches(4) == ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
    assert plan_matches(1) == () and plan_matches(0) == ()
    assert plan_matches(4, opponents=3) == plan_matches(4)


@pytest.mark.parametrize(("size", "opponents"), [(8, 2), (8, 3), (16, 4), (9, 2)])
def test_bounded_schedule_gives_everyone_the_same_number_of_matches(
    size: int, opponents: int
) -> None:
    matches = plan_matches(size, opponents=opponents, seed=3)
    per_side = 2 * -(-opponents // 2)
    assert len(matches) == size * per_side // 2
    played = Counter(i for match in matches for i in match)
    assert set(played.values()) == {per_side}
    assert len(set(matches)) == len(matches) and all(i < j for i, j in matches)
    assert plan_matches(size, opponents=opponents, seed=3) == matches
    assert plan_matches(size, opponents=opponents, seed=4) != matches


def test_calls_per_group_is_stated_and_bounded() -> None:
    assert calls_per_group(8) == 8 * 7 // 2 * 2
    assert calls_per_group(8, opponents=2) == 8 * 2
    assert calls_per_group(8, opponents=2, orders="one") == 8
    assert calls_per_group(8, opponents=2, criteria=5) == 8 * 2 * 5
    with pytest.raises(ConfigError):
        plan_matches(8, opponents=0)


def _bigger_wins(request: JudgeRequest) -> str:
    first, second = shown(request)
    return '{"winner": "A"}' if int(first) > int(second) else '{"winner": "B"}'


def test_rewards_follow_the_ranking_and_calls_match_the_statement() -> None:
    judge = ScriptedJudge(reply=_bigger_wins)
    comparer = Comparer(judge)
    completions = ["3", "1", "4", "2"]
    result = asyncio.run(tournament(comparer, PROMPT, completions))
    assert result.rewards == (2 / 3, 0.0, 1.0, 1 / 3)
    assert judge.calls == calls_per_group(4) == 12
    assert result.judge_decisions == 12


def test_bounded_tournament_costs_what_it_states() -> None:
    judge = ScriptedJudge(reply=_bigger_wins)
    completions = [str(n) for n in range(10)]
    result = asyncio.run(tournament(Comparer(judge), PROMPT, completions, opponents=2, seed=1))
    assert judge.calls == calls_per_group(10, opponents=2) == 20
    assert result.rewards[9] == 1.0 and result.rewards[0] == 0.0
    assert all(r is not None and 0.0 <= r <= 1.0 for r in result.rewards)


def test_a_first_seat_judge_gives_everyone_one_half_in_both_orders() -> None:
    judge = ScriptedJudge(reply=lambda request: "[[A>B]]")
    result = asyncio.run(tournament(Comparer(judge), PROMPT, ["x", "yy", "zzz"]))
    assert result.rewards == (0.5, 0.5, 0.5)
    one = Comparer(
        ScriptedJudge(reply=lambda request: "[[A>B]]"), options=CompareOptions(orders="one")
    )
    biased = asyncio.run(tournament(one, PROMPT, ["x", "yy", "zzz"]))
    assert biased.rewards == (1.0, 0.5, 0.0)  # one order: the seat decides


def test_a_completion_without_any_decision_has_no_reward() -> None:
    judge = ScriptedJudge(reply=lambda request: "no idea")
    result = asyncio.run(tournament(Comparer(judge, reasks=0), PROMPT, ["a", "b"]))
    assert result.rewards == (None, None)


def test_standings_count_every_decision_and_give_the_reward() -> None:
    judge = ScriptedJudge(reply=lambda request: "[[A=B]]" if "2" in shown(request) else "[[A>B]]")
    result = asyncio.run(tournament(Comparer(judge), PROMPT, ["1", "2", "3"]))
    # "2" ties both its matches in both orders; "1" vs "3" is a seat-bias draw (one win each).
    assert result.standings == (
        Standing(wins=1, ties=2, losses=1),
        Standing(ties=4),
        Standing(wins=1, ties=2, losses=1),
    )
    assert result.rewards == tuple(s.reward for s in result.standings) == (0.5, 0.5, 0.5)
    failed = asyncio.run(
        tournament(Comparer(ScriptedJudge(reply=lambda r: "?"), reasks=0), PROMPT, ["a", "b", "c"])
    )
    assert failed.standings == (Standing(errors=4),) * 3
    assert all(s.reward is None and s.decisions == 0 for s in failed.standings)
    assert Standing(wins=3, ties=1).reward == 3.5 / 4
