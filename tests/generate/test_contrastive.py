"""The preference-consistency filter keeps, regenerates, drops and fails the right rubrics."""

from __future__ import annotations

from rubricate.generate import GenerateOptions, GenerationItem, generate_rubrics
from rubricate.generate._contrastive import consistent
from rubricate.store import Store
from rubricate.types import JudgeRequest, Message

from .conftest import criteria_json, scripted

CHOSEN = "Jupiter is the largest planet, a gas giant."
REJECTED = "Saturn is the largest planet."
FOR_CHOSEN = criteria_json(
    ("States that the largest planet is Jupiter.", "principle", "essential"),
    ("Describes the largest planet as a gas giant.", "principle", "important"),
)
FOR_REJECTED = criteria_json(
    ("Names the largest planet as Saturn.", "principle", "essential"),
    ("Calls the largest planet by the name Saturn.", "principle", "important"),
)
TIED = criteria_json(
    ("Says which body is the largest planet.", "principle", "essential"),
    ("Uses the word largest planet.", "principle", "important"),
)


def item(name: str) -> GenerationItem:
    return GenerationItem(
        name,
        (Message("user", f"[{name}] Which is the largest planet?"),),
        chosen=CHOSEN,
        rejected=REJECTED,
    )


def write(request: JudgeRequest) -> str:
    user = request.messages[1].content
    retry = "A rubric written before" in user
    if "[keep]" in user:
        return FOR_CHOSEN
    if "[regen]" in user:
        return FOR_CHOSEN if retry else FOR_REJECTED
    if "[tie]" in user:
        return TIED
    if "[drop]" in user:
        return FOR_REJECTED
    return "I cannot write JSON."


def test_consistent_needs_a_strict_win() -> None:
    assert consistent(0.8, 0.2)
    assert not consistent(0.5, 0.5)
    assert not consistent(0.2, 0.8)
    assert not consistent(None, 0.1) and not consistent(0.9, None)


def test_filter_keeps_regenerates_drops_and_fails() -> None:
    names = ["keep", "regen", "tie", "drop", "fail"]
    result = generate_rubrics(
        [item(n) for n in names],
        scripted(write),
        strategy="contrastive",
        options=GenerateOptions(regenerations=2, reasks=0),
    )
    outcomes = {o.item.id: (o.outcome, o.attempts) for o in result.outcomes}
    assert outcomes == {
        "keep": ("kept", 1),
        "regen": ("regenerated", 2),
        "tie": ("dropped", 3),
        "drop": ("dropped", 3),
        "fail": ("failed", 3),
    }
    stats = result.stats
    assert (stats.kept, stats.regenerated, stats.dropped, stats.failed) == (2, 1, 2, 1)
    assert stats.regeneration_attempts == 1 + 2 + 2 + 2
    assert [r.prompt_id for r in result.rubrics] == ["keep", "regen"]
    kept = result.rubrics[1]
    assert kept.provenance.outcome == "regenerated" and kept.provenance.judge == "scripted"
    history = kept.provenance.details["attempts"]
    assert (
        history[0]["chosen"] < history[0]["rejected"]
        and history[1]["chosen"] > history[1]["rejected"]
    )
    assert next(r.criterion for r in kept.rubrics) == "States that the largest planet is Jupiter."


def test_regeneration_is_told_what_went_wrong() -> None:
    seen: list[str] = []

    def recording(request: JudgeRequest) -> str:
        seen.append(request.messages[1].content)
        return write(request)

    generate_rubrics([item("regen")], scripted(recording), strategy="contrastive")
    assert "(preferred scored 0.00, worse scored 1.00)" in seen[1]
    assert "Names the largest planet as Saturn. (not_met / met)" in seen[1]


def test_rerun_with_the_store_costs_no_calls(tmp_path) -> None:
    with Store(tmp_path / "cache.sqlite") as store:
        first = scripted(write)
        generate_rubrics([item("regen")], first, strategy="contrastive", store=store)
        again = scripted(write)
        result = generate_rubrics([item("regen")], again, strategy="contrastive", store=store)
    assert first.calls > 0 and again.calls == 0
    assert result.stats.regenerated == 1 and result.stats.judge_cache_hits == 8


def test_criteria_are_steered_away_from_naming_the_pair() -> None:
    seen: list[JudgeRequest] = []

    def recording(request: JudgeRequest) -> str:
        seen.append(request)
        return write(request)

    generate_rubrics([item("keep")], scripted(recording), strategy="contrastive")
    # A local generator's reply starts here, so its first criterion is about "the response".
    assert seen[0].answer_prefix == '{"criteria": [{"criterion": "The response'
