"""refine: splits saturated criteria until the depth bound, filters, reweights, logs every step."""

from __future__ import annotations

import itertools

import pytest

from rubricate.errors import ConfigError
from rubricate.generate import GenerateOptions, GenerationItem, RefineOptions, generate_rubrics
from rubricate.rubric import Criterion, Rubric
from rubricate.types import JudgeRequest, Message

from .conftest import criteria_json, scripted

PROMPT = (Message("user", "Which is the largest planet of the solar system?"),)
WORDS = [
    "mass",
    "radius",
    "moons",
    "storms",
    "rings",
    "orbit",
    "gravity",
    "density",
    "hydrogen",
    "helium",
]


def splitting_writer() -> scripted:
    """Each split request gets two fresh, distinct children about the largest planet."""
    counter = itertools.count()

    def write(request: JudgeRequest) -> str:
        a, b = WORDS[next(counter) % len(WORDS)], WORDS[next(counter) % len(WORDS)]
        return criteria_json(
            (f"Gives the {a} of the largest planet.", "principle", "important"),
            (f"Explains the {b} of the planet in the solar system.", "principle", "optional"),
        )

    return write


def refine_item(
    criteria: list[Criterion], responses: tuple[str, ...], preferences=()
) -> GenerationItem:
    return GenerationItem(
        "r1",
        PROMPT,
        rubric=Rubric(id="r1", criteria=tuple(criteria)),
        responses=responses,
        preferences=preferences,
    )


def run(item: GenerationItem, write, decide=None, **refine: object):
    judge = scripted(write, decide) if decide else scripted(write, lambda _t, _r: "met")
    result = generate_rubrics(
        [item],
        judge,
        strategy="refine",
        refine_options=RefineOptions(**refine),
        options=GenerateOptions(reasks=0),
    )
    (outcome,) = result.outcomes
    return outcome, judge


def test_recursion_splits_saturated_criteria_and_stops_at_max_depth() -> None:
    root = Criterion(text="Names the largest planet of the solar system.", points=4)
    item = refine_item([root], ("Jupiter.", "It is Jupiter."))
    outcome, _ = run(item, splitting_writer(), max_depth=2)
    splits = [s for s in outcome.details["log"] if s["step"] == "split"]
    # Depth 0 -> 2 children (depth 1) -> 2 x 2 grandchildren (depth 2) -> stop: 3 splits, 3 rounds.
    assert len(splits) == 3 and outcome.details["rounds"] == 3
    assert len(outcome.criteria) == 4
    # Every response meets everything and there are no labels: equal weights over the
    # grandchildren's total of 3 + 1 + 3 + 1 points (important, optional, twice).
    assert [c.points for c in outcome.criteria] == [2.0, 2.0, 2.0, 2.0]


@pytest.mark.parametrize(("depth", "criteria"), [(0, 1), (1, 2)])
def test_depth_bounds_the_recursion(depth: int, criteria: int) -> None:
    root = Criterion(text="Names the largest planet of the solar system.", points=4)
    outcome, _ = run(
        refine_item([root], ("Jupiter.", "It is Jupiter.")), splitting_writer(), max_depth=depth
    )
    assert len(outcome.criteria) == criteria


def test_a_failed_split_keeps_the_parent_and_stops() -> None:
    root = Criterion(text="Names the largest planet of the solar system.", points=4)
    outcome, _judge = run(refine_item([root], ("Jupiter.", "It is Jupiter.")), lambda _r: "no json")
    assert [c.text for c in outcome.criteria] == [root.text]
    assert [s["step"] for s in outcome.details["log"]][:1] == ["split_failed"]


def test_misaligned_and_duplicate_criteria_are_dropped_and_logged() -> None:
    aligned = Criterion(text="States that the largest planet is Jupiter.", points=5)
    copy = Criterion(text="The response states that the largest planet is Jupiter!", points=5)
    misaligned = Criterion(text="Names the largest planet as Saturn.", points=3)
    same_verdicts = Criterion(text="Describes the largest planet as a gas giant.", points=2)
    responses = ("Jupiter, a gas giant.", "Saturn.", "Jupiter is a gas giant.", "Saturn, I think.")
    item = refine_item([aligned, copy, misaligned, same_verdicts], responses, ((0, 1), (2, 3)))
    from .conftest import keyword_decide

    outcome, _ = run(item, splitting_writer(), keyword_decide, max_depth=0, weight=False)
    steps = {(s["step"], s["criterion"]) for s in outcome.details["log"]}
    assert ("drop_misaligned", misaligned.text) in steps
    assert ("drop_duplicate", copy.text) in steps
    # Same verdicts on all four responses as "Jupiter": a duplicate by correlation.
    dropped = next(s for s in outcome.details["log"] if s["criterion"] == same_verdicts.text)
    assert dropped["step"] == "drop_duplicate" and dropped["by"] == "verdict_correlation"
    assert [c.text for c in outcome.criteria] == [aligned.text]
    assert outcome.details["pairwise_agreement_before"] == 1.0


def test_weights_replace_points_and_keep_the_total() -> None:
    jupiter = Criterion(text="States that the largest planet is Jupiter.", points=5)
    storms = Criterion(text="Mentions the Great Red Spot storms.", points=1)
    responses = ("Jupiter.", "Saturn.", "Saturn, with storms.", "Saturn.")
    from .conftest import keyword_decide

    item = refine_item([jupiter, storms], responses, ((0, 1), (2, 3)))
    outcome, _ = run(
        item, splitting_writer(), keyword_decide, max_depth=0, min_rows_for_correlation=99
    )
    # d = [0.5, 0.5]; var = [3/16, 3/16]; cov = -1/16 -> S^-1 d is equal for both: 3 points each.
    assert [(c.text, c.points) for c in outcome.criteria] == [
        (jupiter.text, 3.0),
        (storms.text, 3.0),
    ]
    assert {s["step"] for s in outcome.details["log"]} == {"weight"}


def test_refine_without_rubric_or_responses_fails() -> None:
    outcome, _ = run(GenerationItem("r1", PROMPT), splitting_writer())
    assert outcome.outcome == "failed" and "needs a rubric" in (outcome.reason or "")


def test_options_are_checked() -> None:
    with pytest.raises(ConfigError):
        RefineOptions(max_children=1)
