"""Quotes: reading them from replies, checking them against the response, strict evidence."""

from __future__ import annotations

import json

import pytest

from rubricate.judge import (
    FUZZY_MIN_CHARS,
    FUZZY_THRESHOLD,
    check_evidence,
    evidence_status,
    parse_group_reply,
    parse_single_reply,
    quote_found,
    read_quotes,
    reply_schema,
    require_evidence,
)
from rubricate.rubric import Criterion, Scale
from rubricate.types import Quote, Verdict

RESPONSE = (
    "No. Colds are caused by viruses, and antibiotics do not work against viruses.\n"
    "Rest,   drink fluids, and see a doctor if a fever above 39 °C lasts more than three days."
)
DOSE = Criterion(id="dose", text="Says antibiotics do not help a cold.", points=5)
PITFALL = Criterion(id="bad", text="Recommends antibiotics.", points=-5)
LEVELS = Criterion(
    id="clear", text="Is clear.", points=2, scale=Scale(kind="ordinal", levels=("a", "b", "c"))
)


# --- matching -----------------------------------------------------------------------


def test_exact_quotes_are_found_ignoring_case_and_whitespace() -> None:
    assert quote_found("antibiotics do not work against viruses", RESPONSE)
    assert quote_found("REST, DRINK FLUIDS,\n and see a doctor", RESPONSE)
    assert quote_found("  “No. Colds are caused by viruses”  ", RESPONSE)  # judge's own quotes


def test_text_not_in_the_response_is_not_found() -> None:
    assert not quote_found("antibiotics cure colds quickly and safely", RESPONSE)
    assert not quote_found("", RESPONSE)
    assert not quote_found("...", RESPONSE)


def test_fuzzy_threshold_forgives_small_copy_errors_only() -> None:
    exact = "see a doctor if a fever above 39 °C lasts more than three days"
    one_typo = exact.replace("doctor", "docter")
    assert len(one_typo) >= FUZZY_MIN_CHARS and one_typo not in RESPONSE
    assert quote_found(one_typo, RESPONSE)
    # Rewording changes more than 1 - FUZZY_THRESHOLD of the characters: not a quote.
    reworded = "visit a physician when a fever over 39 °C persists for several days"
    assert not quote_found(reworded, RESPONSE)


def test_the_threshold_is_the_documented_ratio() -> None:
    base = "abcdefghijklmnopqrstuvwxyz0123456789ABCD"  # 40 characters
    text = f"prefix {base} suffix"
    # Each substituted character costs 1/40 of the ratio: 4 changes keep 0.9, 5 do not.
    four = "####" + base[4:]
    five = "#####" + base[5:]
    assert FUZZY_THRESHOLD == 0.9
    assert quote_found(four, text)
    assert not quote_found(five, text)


def test_short_quotes_must_match_exactly() -> None:
    assert quote_found("Rest", RESPONSE)
    assert not quote_found("Rust", RESPONSE)  # 3 of 4 characters would be a fuzzy 0.75


def test_ellipsis_joins_parts_that_must_each_be_found_in_order() -> None:
    assert quote_found("Colds are caused by viruses ... see a doctor", RESPONSE)
    assert quote_found("No. Colds…drink fluids", RESPONSE)
    assert not quote_found("see a doctor ... Colds are caused by viruses", RESPONSE)
    assert not quote_found("Colds are caused by viruses ... take antibiotics", RESPONSE)


# --- reading replies -------------------------------------------------------------------


def test_read_quotes_takes_strings_and_lists_only() -> None:
    assert read_quotes(["a", " b ", "", 3]) == (Quote("a"), Quote("b"))
    assert read_quotes("one") == (Quote("one"),)
    assert read_quotes(None) is None
    assert read_quotes({"quote": "x"}) is None


def test_rubricate_reply_keeps_quotes_unchecked() -> None:
    reply = json.dumps({"evidence": ["antibiotics do not work"], "verdict": "met"})
    verdict = parse_single_reply(reply, DOSE, evidence=True)
    assert verdict.label == "met"
    assert verdict.evidence == (Quote("antibiotics do not work", found=False),)


def test_healthbench_reply_carries_evidence_too() -> None:
    reply = json.dumps(
        {"explanation": "It says so.", "criteria_met": True, "evidence": ["Colds are caused"]}
    )
    verdict = parse_single_reply(reply, DOSE, evidence=True)
    assert (verdict.label, verdict.evidence) == ("met", (Quote("Colds are caused"),))


def test_without_evidence_asked_quotes_are_ignored() -> None:
    reply = json.dumps({"evidence": ["x"], "verdict": "met"})
    assert parse_single_reply(reply, DOSE).evidence is None


def test_a_reply_without_quotes_has_empty_evidence() -> None:
    assert parse_single_reply('{"verdict": "met"}', DOSE, evidence=True).evidence == ()
    assert parse_single_reply("met", DOSE, evidence=True).evidence == ()


def test_group_replies_keep_quotes_per_criterion_in_both_shapes() -> None:
    listed = {"verdicts": [{"id": "dose", "evidence": ["Rest"], "verdict": "met"}]}
    keyed = {"verdicts": {"dose": {"evidence": ["Rest"], "verdict": "met"}}}
    for reply in (listed, keyed):
        found, missing = parse_group_reply(json.dumps(reply), [DOSE, PITFALL], evidence=True)
        assert found["dose"].evidence == (Quote("Rest"),)
        assert missing == ["bad"]


# --- checking and strict ----------------------------------------------------------------


def _met(*quotes: str) -> Verdict:
    return check_evidence(
        Verdict("dose", "met", evidence=tuple(Quote(q) for q in quotes)), RESPONSE
    )


def test_status_counts_verified_unverified_and_missing() -> None:
    assert evidence_status(_met("Rest", "not there at all")) == "verified"
    assert evidence_status(_met("not there at all")) == "unverified"
    assert evidence_status(_met()) == "missing"
    assert evidence_status(Verdict("dose", "not_met", evidence=())) is None
    assert evidence_status(Verdict("dose", "met")) is None  # evidence not asked for


def test_a_quote_from_the_criterion_or_prompt_only_is_unverified() -> None:
    verdict = _met("Says antibiotics do not help a cold.", "Should I take antibiotics?")
    assert [q.found for q in verdict.evidence or ()] == [False, False]
    assert evidence_status(verdict) == "unverified"


def test_strict_turns_an_unsupported_met_into_not_met() -> None:
    assert require_evidence(_met("nowhere in the text"), DOSE).label == "not_met"
    assert require_evidence(_met(), DOSE).label == "not_met"
    assert require_evidence(_met("Rest"), DOSE).label == "met"


def test_strict_leaves_a_met_pitfall_met() -> None:
    # Dropping it would reward the response for the judge's failure to quote it.
    pitfall = check_evidence(Verdict("bad", "met", evidence=()), RESPONSE)
    assert require_evidence(pitfall, PITFALL).label == "met"


def test_strict_leaves_levels_alone() -> None:
    top = check_evidence(Verdict("clear", "met", level=2, evidence=()), RESPONSE)
    assert require_evidence(top, LEVELS) == top


# --- schema ---------------------------------------------------------------------------


def test_group_schema_names_exactly_the_asked_ids() -> None:
    schema = json.loads(reply_schema([DOSE, PITFALL, LEVELS], explain=False, evidence=True))
    verdicts = schema["properties"]["verdicts"]
    assert verdicts["required"] == ["dose", "bad", "clear"]
    assert verdicts["additionalProperties"] is False
    assert verdicts["properties"]["dose"]["required"] == ["evidence", "verdict"]
    assert verdicts["properties"]["clear"]["properties"]["level"]["enum"] == [0, 1, 2]


@pytest.mark.parametrize("explain", [False, True])
def test_single_schema_verdict_is_an_enum_of_what_the_scale_allows(explain: bool) -> None:
    schema = json.loads(reply_schema([DOSE], explain=explain, evidence=False))
    assert schema["properties"]["verdict"]["enum"] == ["met", "not_met", "cannot_assess"]
    assert ("explanation" in schema["properties"]) is explain
    assert "evidence" not in schema["properties"]
