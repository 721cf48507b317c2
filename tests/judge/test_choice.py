"""One rule maps a reply token to a choice, for the OpenAI and the llama.cpp backend alike."""

from __future__ import annotations

import math

import pytest

from rubricate.backends.llamacpp import _choice_of
from rubricate.backends.openai import choice_probabilities
from rubricate.judge import ANSWER_PREFIX, choice_index

BINARY = ("met", "not_met")

CASES = [
    ("met", 0),
    ("m", 0),
    ("me", 0),
    ('met"}', 0),  # the whole choice, then punctuation
    ("met,", 0),
    ("not", 1),
    ("n", 1),
    ("not_", 1),
    ("Met", 0),  # case is ignored, as the verdict parser ignores it
    ("NOT", 1),
    (" met", 0),  # the space before a word lives in its token
    ("  not_met", 1),
    ("\tmet", 0),
    ("_met", None),
    ("meta", None),
    ("met_", None),
    ("metric", None),
    ("", None),
    (" ", None),
    ("yes", None),
]


@pytest.mark.parametrize(("token", "expected"), CASES)
def test_choice_index(token: str, expected: int | None) -> None:
    assert choice_index(token, BINARY) == expected


@pytest.mark.parametrize(("token", "expected"), CASES)
def test_the_llama_cpp_vocabulary_uses_the_same_rule(token: str, expected: int | None) -> None:
    assert _choice_of(token.encode("utf-8"), BINARY) == expected


def test_undecodable_vocabulary_pieces_name_no_choice() -> None:
    assert _choice_of(b"\xe2", BINARY) is None


@pytest.mark.parametrize(("token", "expected"), CASES)
def test_the_openai_logprobs_use_the_same_rule(token: str, expected: int | None) -> None:
    # The token under test competes with a plain "not" (P=0.5) at the answer position.
    content = [
        {"token": '{"verdict": "', "logprob": 0.0},
        {
            "token": "not",
            "logprob": math.log(0.5),
            "top_logprobs": [
                {"token": "not", "logprob": math.log(0.5)},
                {"token": token, "logprob": math.log(0.25)},
            ],
        },
    ]
    got = choice_probabilities(content, ANSWER_PREFIX, BINARY)
    if expected is None:
        assert got == {"met": 0.0, "not_met": 1.0}
    elif expected == 0:
        assert got == pytest.approx({"met": 1 / 3, "not_met": 2 / 3})
    else:
        assert got == {"met": 0.0, "not_met": 1.0}


def test_a_token_fitting_several_choices_counts_for_none() -> None:
    assert choice_index("m", ("met", "mostly")) is None
    assert choice_index("me", ("met", "mostly")) == 0
    assert choice_index("Yes", ("yes", "no")) == 0
    assert choice_index("partial", ("met", "partially_met", "not_met")) == 1
