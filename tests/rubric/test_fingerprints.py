"""Fingerprints are cache keys: their values are pinned, and caching them changes nothing."""

from __future__ import annotations

import pickle
import threading

import pytest
from pydantic import ValidationError

from rubricate.rubric import Criterion, Rubric, Scale


def _rubric() -> Rubric:
    return Rubric(
        id="r1",
        criteria=(
            Criterion(id="a", text="Says to see a doctor", points=5, tags=("axis:accuracy",)),
            Criterion(id="b", text="Recommends an unsafe dose", points=-4, required=True),
            Criterion(
                id="c",
                text="Clarity",
                scale=Scale(
                    kind="ordinal", levels=("poor", "fair", "good"), values=(1.0, 5.0, 10.0)
                ),
            ),
        ),
        gate_floor=-1.0,
    )


def test_values_are_the_ones_every_cache_already_holds() -> None:
    # Computed before the lock-free cache replaced functools.cached_property: a change here
    # would re-judge every cached verdict.
    rubric = _rubric()
    assert [c.fingerprint for c in rubric.criteria] == [
        "134fa10d6c38a55ff8e7ba0ae5de87303462d2f046c754a3ef8f43790d17f24e",
        "e8ea2dc7b049bea38570baaa9b5aef8ede81b7f8e8a096256ca5152d5730575a",
        "45f5b1f182fbf219f0320ce24420ae308bdd3686d3d4bcf6b1079ef114d9a448",
    ]
    assert rubric.fingerprint == "d30c8230e0d816241ba7e05c8d7cf9c46dfd3c860ca3cf68526dbf00c17d86bf"
    assert rubric.axes == ("accuracy",)
    assert rubric.by_id["b"] is rubric.criteria[1]


def test_computed_once_then_read_from_the_instance() -> None:
    criterion = _rubric().criteria[0]
    first = criterion.fingerprint
    assert criterion.__dict__["fingerprint"] is first
    assert criterion.fingerprint is first
    assert Criterion.fingerprint.__get__(None, Criterion) is Criterion.__dict__["fingerprint"]


def test_reading_a_fingerprint_leaves_equality_hash_and_pickling_alone() -> None:
    read, unread = _rubric(), _rubric()
    _ = read.fingerprint, [c.fingerprint for c in read.criteria], read.axes
    assert read == unread  # (a rubric is unhashable: its metadata is a dict)
    assert read.criteria[0] == unread.criteria[0]
    assert hash(read.criteria[0]) == hash(unread.criteria[0])
    again = pickle.loads(pickle.dumps(read))
    assert again == unread and again.fingerprint == unread.fingerprint


def test_models_stay_frozen() -> None:
    criterion = _rubric().criteria[0]
    _ = criterion.fingerprint
    with pytest.raises(ValidationError):
        criterion.text = "something else"  # type: ignore[misc]
    assert criterion.text == "Says to see a doctor"


def test_threads_reading_at_once_agree() -> None:
    rubrics = [_rubric() for _ in range(200)]
    seen: list[set[str]] = [set() for _ in rubrics]
    start = threading.Barrier(4)

    def read() -> None:
        start.wait()
        for index, rubric in enumerate(rubrics):
            seen[index].add(rubric.fingerprint + rubric.criteria[2].fingerprint)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(values == seen[0] for values in seen) and len(seen[0]) == 1


def test_a_copy_with_changed_fields_recomputes_what_was_cached() -> None:
    rubric = _rubric()
    criterion = rubric.criteria[0]
    before = (rubric.fingerprint, rubric.axes, criterion.fingerprint)
    changed = criterion.model_copy(update={"text": "Says to call emergency services"})
    assert changed.fingerprint == Criterion(**changed.model_dump()).fingerprint != before[2]
    relaxed = rubric.model_copy(
        update={
            "criteria": tuple(c.model_copy(update={"required": False}) for c in rubric.criteria)
        }
    )
    rebuilt = Rubric(**relaxed.model_dump())
    assert relaxed.fingerprint == rebuilt.fingerprint != before[0]
    assert relaxed.by_id["b"] is relaxed.criteria[1] and not relaxed.by_id["b"].required
    # A plain copy describes the same fields, so it keeps what was computed.
    same = rubric.model_copy()
    assert same.__dict__["fingerprint"] is before[0] and same.axes == before[1]


def _first_formula(criterion: Criterion) -> str:
    """The fingerprint as first defined (one join over every part), before its shortcut for
    criteria without levels."""
    import hashlib

    parts = (
        criterion.text,
        criterion.scale.kind,
        *criterion.scale.levels,
        *(f"{v:g}" for v in criterion.scale.values),
        "pitfall" if criterion.is_pitfall else "",
    )
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def test_every_kind_of_criterion_keeps_its_first_fingerprint() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    text = st.text(min_size=1).filter(str.strip)
    scales = st.sampled_from(
        [
            Scale(),
            Scale(kind="ternary"),
            Scale(kind="blocking"),
            Scale(kind="ordinal", levels=("a", "b\x1fc")),
            Scale(kind="ordinal", levels=("poor", "ok", "good"), values=(-1.5, 0.0, 1e20)),
        ]
    )
    points = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)

    @given(text=text, scale=scales, points=points)
    def check(text: str, scale: Scale, points: float) -> None:
        criterion = Criterion(id="x", text=text, points=points, scale=scale)
        assert criterion.fingerprint == _first_formula(criterion)

    check()
