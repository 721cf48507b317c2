"""The lean builders make exactly what the dataclasses' own constructors make."""

from dataclasses import fields

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rubricate.judge._lean import lean_request, lean_verdict
from rubricate.types import JudgeRequest, Message, Quote, Verdict

texts = st.text(max_size=20)
maybe_float = st.none() | st.floats(allow_nan=True, allow_infinity=True)


@given(
    messages=st.lists(st.builds(Message, texts, texts), max_size=3).map(tuple),
    ids=st.lists(texts, max_size=4).map(tuple),
    max_tokens=st.integers(),
    want=st.booleans(),
    choices=st.lists(texts, max_size=3).map(tuple),
    prefix=texts,
    shared=st.integers(min_value=0),
    schema=st.none() | texts,
)
def test_lean_request_equals_the_constructed_one(
    messages, ids, max_tokens, want, choices, prefix, shared, schema
) -> None:
    made = JudgeRequest(
        messages, ids, max_tokens, want, choices, prefix, shared, None, None, schema
    )
    lean = lean_request(messages, ids, max_tokens, want, choices, prefix, shared, schema)
    assert type(lean) is JudgeRequest
    # Field by field, so a field the builder forgot raises instead of comparing equal.
    assert [getattr(lean, f.name) for f in fields(JudgeRequest)] == [
        getattr(made, f.name) for f in fields(JudgeRequest)
    ]
    assert lean == made and hash(lean) == hash(made) and repr(lean) == repr(made)


@given(
    criterion_id=texts,
    label=st.sampled_from(["met", "not_met", "partial", "error", ""]),
    probability=maybe_float,
    evidence=st.none() | st.lists(st.builds(Quote, texts, st.booleans()), max_size=2).map(tuple),
)
def test_lean_verdict_equals_the_constructed_one(criterion_id, label, probability, evidence):
    made = Verdict(criterion_id, label, probability=probability, evidence=evidence)
    lean = lean_verdict(criterion_id, label, probability, evidence)
    assert type(lean) is Verdict
    assert [getattr(lean, f.name) for f in fields(Verdict)] == [
        getattr(made, f.name) for f in fields(Verdict)
    ]  # the same NaN object on both sides compares equal in a list
    assert repr(lean) == repr(made)


def test_lean_values_stay_frozen() -> None:
    lean = lean_verdict("c", "met", None, None)
    with pytest.raises(AttributeError):
        lean.label = "not_met"  # type: ignore[misc]
