"""RuscaRL scaffolding: intra-group linear decay, inter-step sigmoid, seeded nested subsets."""

from __future__ import annotations

import math
from itertools import pairwise

import pytest

from rubricate.errors import ConfigError
from rubricate.rewards import (
    group_fraction,
    reveal_fraction,
    scaffold,
    scaffold_messages,
    step_fraction,
)
from rubricate.rubric import Criterion, Rubric
from rubricate.types import Message

RUBRIC = Rubric(
    id="r",
    criteria=tuple(
        Criterion(id=f"c{i}", text=f"Point number {i}", points=p)
        for i, p in enumerate([5, 4, 3, 2, 1, -3, -5, 2, 2, 1])
    ),
)


def test_group_fraction_is_linear_from_all_to_nothing() -> None:
    assert [group_fraction(i, 5) for i in range(5)] == [1.0, 0.75, 0.5, 0.25, 0.0]
    assert group_fraction(0, 1) == 1.0
    assert group_fraction(3, 5, decay="none") == 1.0
    with pytest.raises(ConfigError):
        group_fraction(5, 5)


def test_step_fraction_is_a_falling_sigmoid_centred_on_the_start_point() -> None:
    assert step_fraction(20, 100, start=0.2, steepness=125) == pytest.approx(0.5)
    assert step_fraction(0, 100, start=0.2, steepness=125) == pytest.approx(1 / (1 + math.exp(-25)))
    assert step_fraction(100, 100, start=0.2, steepness=125) < 1e-40
    assert step_fraction(10**9, 10, steepness=125) == 0.0  # no overflow
    values = [step_fraction(s, 100, start=0.3, steepness=10) for s in range(101)]
    assert all(a >= b for a, b in pairwise(values))
    assert reveal_fraction(1, 3, step=20, total_steps=100) == pytest.approx(0.25)
    with pytest.raises(ConfigError):
        reveal_fraction(0, 3, step=1)


def test_revealed_criteria_are_nested_deterministic_and_seeded() -> None:
    group = [scaffold(RUBRIC, index=i, group_size=6, seed=7) for i in range(6)]
    counts = [len(s.criteria) for s in group]
    assert counts == [10, 8, 6, 4, 2, 0]
    for larger, smaller in pairwise(group):
        assert {c.id for c in smaller.criteria} <= {c.id for c in larger.criteria}
    assert group[-1].text == "" and group[0].fraction == 1.0
    again = [scaffold(RUBRIC, index=i, group_size=6, seed=7) for i in range(6)]
    assert again == group
    other_seed = {c.id for c in scaffold(RUBRIC, index=3, group_size=6, seed=8).criteria}
    seeds = {
        frozenset(c.id for c in scaffold(RUBRIC, index=3, group_size=6, seed=s).criteria)
        for s in range(20)
    }
    assert len(seeds) > 1 and len(other_seed) == 4


def test_guidance_lists_points_and_pitfalls_in_rubric_order() -> None:
    full = scaffold(RUBRIC, index=0, group_size=4)
    lines = full.text.splitlines()
    include, avoid = lines.index("Points to include:"), lines.index("Pitfalls to avoid:")
    assert lines[include + 1 : avoid] == [f"- Point number {i}" for i in (0, 1, 2, 3, 4, 7, 8, 9)]
    assert lines[avoid + 1 :] == ["- Point number 5", "- Point number 6"]
    late = scaffold(RUBRIC, index=0, group_size=4, step=90, total_steps=100)
    assert late.criteria == () and late.text == ""


def test_guidance_joins_the_system_message() -> None:
    guidance = scaffold(RUBRIC, index=0, group_size=2)
    with_system = scaffold_messages(
        [Message("system", "Be brief."), Message("user", "Q")], guidance
    )
    assert with_system[0].content.startswith("Be brief.\n\nGuidance") and len(with_system) == 2
    without = scaffold_messages([Message("user", "Q")], guidance)
    assert without[0].role == "system" and without[1] == Message("user", "Q")
    nothing = scaffold(RUBRIC, index=1, group_size=2)
    assert scaffold_messages([Message("user", "Q")], nothing) == (Message("user", "Q"),)
