"""Verdicts and prompts for banded (valued) ordinal criteria and DRB-II's blocking scale."""

from __future__ import annotations

import pytest

from rubricate.errors import VerdictError
from rubricate.judge import (
    build_request,
    load_template,
    parse_group_reply,
    parse_single_reply,
    render_shared,
)
from rubricate.rubric import Criterion, Rubric, Scale
from rubricate.types import Message, Sample

TEN = Criterion(
    id="c",
    text="Depth: how deep",
    scale=Scale(
        kind="ordinal", levels=tuple(f"band {i}" for i in range(10)), values=tuple(range(1, 11))
    ),
)
BLOCKING = Criterion(id="b", text="States the 2021 figure.", scale=Scale(kind="blocking"))
BINARY = Criterion(id="y", text="Says hi.")


@pytest.mark.parametrize(
    ("reply", "level"),
    [
        ('{"score": 7}', 6),
        ('{"score": 10, "reason": "x"}', 9),
        ('{"level": 3}', 3),
        ('{"score": 4, "level": 3}', 3),
    ],
)
def test_a_score_on_the_criterion_scale_is_its_level(reply: str, level: int) -> None:
    assert parse_single_reply(reply, TEN).level == level


@pytest.mark.parametrize(
    "reply", ['{"score": 0}', '{"score": 11}', '{"score": 7, "level": 2}', '{"score": true}']
)
def test_a_score_off_the_scale_or_contradicting_the_level_is_no_verdict(reply: str) -> None:
    with pytest.raises(VerdictError):
        parse_single_reply(reply, TEN)


@pytest.mark.parametrize(
    ("reply", "label"),
    [
        ('{"score": 1}', "met"),
        ('{"score": 0}', "not_met"),
        ('{"score": -1}', "blocked"),
        ('{"verdict": "blocked"}', "blocked"),
        ("blocked", "blocked"),
    ],
)
def test_blocking_scale_takes_three_outcomes(reply: str, label: str) -> None:
    assert parse_single_reply(reply, BLOCKING).label == label


@pytest.mark.parametrize("reply", ['{"verdict": "blocked"}', "blocked", '{"score": -1}'])
def test_blocked_is_refused_on_other_scales(reply: str) -> None:
    with pytest.raises(VerdictError):
        parse_single_reply(reply, BINARY)


def test_blocked_and_scores_in_grouped_replies() -> None:
    found, missing = parse_group_reply(
        '{"verdicts": [{"id": "b", "score": -1}, {"id": "c", "score": 5}, {"id": "y", "verdict": "blocked"}]}',
        [BLOCKING, TEN, BINARY],
    )
    assert found["b"].label == "blocked" and found["c"].level == 4 and missing == ["y"]


def _sample(metadata: dict[str, object]) -> Sample:
    rubric = Rubric(criteria=(BLOCKING,))
    return Sample("s", (Message("user", "Q"),), rubric, "R", metadata)


def test_context_is_shown_to_the_judge_and_keys_the_cache() -> None:
    plain, with_context = _sample({}), _sample({"judge_context": "Do not use: Example Article"})
    assert "<context>" not in render_shared(plain)
    shared = render_shared(with_context)
    assert "<context>\nDo not use: Example Article\n</context>" in shared
    assert shared.index("</conversation>") < shared.index("<context>") < shared.index("<response-")
    assert plain.conversation_hash() != with_context.conversation_hash()
    assert plain.conversation_hash() == _sample({"judge_context": "  "}).conversation_hash()


def test_level_values_and_blocking_note_are_rendered() -> None:
    request = build_request(load_template("per-criterion"), "shared\n", [TEN], max_tokens=64)
    assert "level 6 (score 7): band 6" in request.messages[-1].content
    request = build_request(load_template("per-criterion"), "shared\n", [BLOCKING], max_tokens=64)
    assert 'note="blocked allowed"' in request.messages[-1].content
    assert request.choices == ()  # three outcomes: no met/not_met probability shortcut


def test_researchrubrics_verdict_words_are_read() -> None:
    ternary = Criterion(id="t", text="Cites sources.", scale=Scale(kind="ternary"))
    assert parse_single_reply('{"verdict": "Partially Satisfied"}', ternary).label == "partial"
    assert parse_single_reply('{"verdict": "Not Satisfied"}', ternary).label == "not_met"
    assert parse_single_reply('{"verdict": "Satisfied"}', ternary).label == "met"


def test_level_values_must_be_finite_distinct_and_one_per_level() -> None:
    for values in ((1.0, float("nan")), (1.0, 1.0), (1.0,)):
        with pytest.raises(ValueError):
            Scale(kind="ordinal", levels=("a", "b"), values=values)
