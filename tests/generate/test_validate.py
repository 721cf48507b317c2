from __future__ import annotations

import pytest

from rubricate.errors import VerdictError
from rubricate.generate import IMPORTANCE_POINTS, Rules, parse_criteria_reply, validate_text
from rubricate.generate._validate import Rejection, criterion_from_item

PROMPT = "What is the maximum daily dose of paracetamol for an adult with liver disease? Answer in under 100 words."
RULES = Rules(context=PROMPT)


@pytest.mark.parametrize(
    ("text", "reasons"),
    [
        ("States that the maximum daily dose of paracetamol for healthy adults is 4 g.", []),
        ("Keeps the answer under 100 words.", []),
        ("Advises consulting a doctor before taking paracetamol with liver disease.", []),
        ("The response is helpful and accurate.", ["vague", "prompt_independent"]),
        ("The response is clear and well-organized.", ["prompt_independent"]),
        ("Mentions liver disease and explains the reduced dose.", ["compound"]),
        ("States the dose; warns about alcohol.", ["compound"]),
        ("Covers the dosing, etc.", ["vague"]),
        ("Response A mentions the paracetamol dose.", ["not_self_contained"]),
        ("Is good.", ["too_short", "vague", "prompt_independent"]),
    ],
)
def test_text_rules(text: str, reasons: list[str]) -> None:
    assert validate_text(text, RULES) == reasons


def test_prompt_independence_is_off_without_context() -> None:
    assert validate_text("Uses a formal tone throughout the letter.", Rules()) == []


def test_item_becomes_criterion_with_signed_points_and_tags() -> None:
    item = {
        "criterion": "Claims that paracetamol is safe at any dose in liver disease.",
        "kind": "Principle",
        "importance": "PITFALL",
        "axis": "safety",
    }
    made = criterion_from_item(item, RULES, IMPORTANCE_POINTS)
    assert not isinstance(made, Rejection)
    assert made.points == IMPORTANCE_POINTS["pitfall"] < 0
    assert made.tags == ("axis:safety", "kind:principle", "importance:pitfall")


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        (
            {
                "criterion": "States the paracetamol dose limit.",
                "kind": "rule",
                "importance": "essential",
            },
            "bad_kind",
        ),
        (
            {
                "criterion": "States the paracetamol dose limit.",
                "kind": "principle",
                "importance": "critical",
            },
            "bad_importance",
        ),
        (
            {
                "criterion": "States the paracetamol dose limit.",
                "kind": "principle",
                "importance": "optional",
                "axis": "Bad Axis!",
            },
            "bad_axis",
        ),
        ({"text": "States the paracetamol dose limit."}, "no_text"),
        ("States the paracetamol dose limit.", "not_an_object"),
    ],
)
def test_bad_labels_are_rejected_not_repaired(item: object, reason: str) -> None:
    made = criterion_from_item(item, RULES, IMPORTANCE_POINTS)
    assert isinstance(made, Rejection)
    assert reason in made.reasons


def test_parse_accepts_one_criteria_object_bare_fenced_or_in_prose() -> None:
    body = '{"criteria": [{"criterion": "x"}]}'
    for text in (body, f"```json\n{body}\n```", f"Here it is: {body} Hope that helps."):
        assert parse_criteria_reply(text) == [{"criterion": "x"}]


@pytest.mark.parametrize(
    "text",
    ["not json at all", '{"rubric": []}', '{"criteria": [1]} and {"criteria": [2]}', "[1, 2]"],
)
def test_parse_rejects_anything_else(text: str) -> None:
    with pytest.raises(VerdictError):
        parse_criteria_reply(text)


def test_possessive_in_criterion_matches_the_name_in_the_prompt() -> None:
    rules = Rules(context="Who proved Smith's lemma, and when?")
    assert validate_text("Names Smith as the author of the lemma.", rules) == []
    assert (
        validate_text("Attributes Smith's lemma to its author.", Rules(context="Who is Smith?"))
        == []
    )
