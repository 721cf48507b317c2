"""Juries comparing pairs: scripted member judges, the rules, agreement, cache and records."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from rubricate.backends import ScriptedJudge
from rubricate.engine import Jury, JuryMember
from rubricate.errors import BackendError, ConfigError
from rubricate.pairwise import (
    CompareOptions,
    Pair,
    PairLine,
    Trial,
    compare_pairs,
    jury_decision,
    jury_trial,
)
from rubricate.rubric import Criterion, Rubric
from rubricate.runs import run_id_for
from rubricate.store import Store
from rubricate.types import JudgeReply, JudgeRequest, Message
from tests.pairwise.conftest import criterion_id, make_pairs, shown


def _always_first(request: JudgeRequest) -> str:
    return '{"winner": "A"}'


def _oracle(request: JudgeRequest) -> str:
    first, _ = shown(request)
    return "[[A>>B]]" if first.startswith("RIGHT") else "[[B>A]]"


def _jury(rule: str = "majority", weights: tuple[float, float, float] = (1, 1, 1)) -> Jury:
    judges = [
        ScriptedJudge(reply=_oracle, fingerprint="oracle"),
        ScriptedJudge(reply=_always_first, fingerprint="first-1"),
        ScriptedJudge(reply=_always_first, fingerprint="first-2"),
    ]
    members = tuple(JuryMember(j, w, j.fingerprint) for j, w in zip(judges, weights, strict=True))
    return Jury(members, rule)  # type: ignore[arg-type]


def _lines(out: Path) -> list[PairLine]:
    text = (out / "pairs.jsonl").read_text(encoding="utf-8")
    return [PairLine.model_validate_json(line) for line in text.splitlines()]


def test_jury_decision_rules_on_three_way_votes() -> None:
    votes = ["A>B", "B>A", "B>A"]
    assert jury_decision("majority", votes, [1, 1, 1]) == "B>A"
    assert jury_decision("weighted", votes, [3, 1, 1]) == "A>B"
    assert jury_decision("weighted", votes, [2, 1, 1]) == "A=B"  # equal weight sums: split
    assert jury_decision("majority", ["A>B", "B>A"], [1, 1]) == "A=B"
    assert jury_decision("unanimous", votes, [1, 1, 1]) == "A=B"
    assert jury_decision("unanimous", ["B>A", None, "B>A"], [1, 1, 1]) == "B>A"
    assert jury_decision("majority", ["A>B", None, None], [1, 1, 1]) == "A>B"  # errors abstain
    assert jury_decision("majority", [None, None], [1, 1]) is None
    with pytest.raises(ConfigError, match="'any'"):
        jury_decision("any", votes, [1, 1, 1])


def test_jury_trial_is_strong_only_when_every_backer_was() -> None:
    trials = [Trial("AB", "A>B", True), Trial("AB", "A>B", False), Trial("AB", "B>A", True)]
    assert jury_trial("majority", trials, [1, 1, 1]) == Trial("AB", "A>B", False)
    assert jury_trial("majority", trials[::2], [1, 1]).decision == "A=B"
    failed = jury_trial("majority", [Trial("BA", None, error="unparseable")] * 2, [1, 1])
    assert failed.decision is None and failed.error == "no jury member decided"


def test_oracle_and_two_always_first_judges_under_majority(tmp_path: Path) -> None:
    jury = _jury()
    summary = compare_pairs(make_pairs(8), jury, tmp_path / "run")
    # The two position-biased judges outvote the oracle whenever they disagree.
    assert summary.accuracy == 0.0 and summary.consistency == 0.0
    assert summary.first_position_rate == 1.0 and summary.ties == 8
    assert [m.judge.calls for m in jury.members] == [16, 16, 16]  # type: ignore[attr-defined]
    assert summary.counts.judge_calls == 48
    assert summary.judge == jury.fingerprint and summary.judge.startswith("jury:majority[")
    block = summary.jury
    assert block is not None and block.rule == "majority" and block.trials == 16
    alone = {m.name: m for m in block.members}
    assert alone["oracle"].accuracy == 1.0 and alone["oracle"].consistency == 1.0
    assert alone["oracle"].first_position_rate == 0.5
    assert alone["first-1"].accuracy == 0.0 and alone["first-1"].first_position_rate == 1.0
    assert alone["oracle"].agreement_with_jury == 0.5
    assert alone["first-2"].agreement_with_jury == 1.0
    assert [m.counts.judge_calls for m in block.members] == [16, 16, 16]
    assert all(m.tokens.prompt > 0 for m in block.members)
    line = _lines(tmp_path / "run")[0]
    assert line.judge == jury.fingerprint and line.criteria == []
    assert line.jury is not None and [m.judge for m in line.jury] == [
        "oracle",
        "first-1",
        "first-2",
    ]
    oracle = line.jury[0]
    assert oracle.decisions == ["A>B", "A>B"] and oracle.correct is True
    assert [t.raw for t in oracle.judgments] == ["[[A>>B]]", "[[B>A]]"]  # replies kept
    assert line.jury[1].decisions == ["A>B", "B>A"]
    assert line.decisions == ["A>B", "B>A"] and line.preference == "A=B"
    assert all(t.raw is None for t in line.judgments)  # the jury has no reply of its own
    written = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert written["jury"]["members"][0]["judge"] == "oracle"


def test_agreement_of_a_small_case_by_hand(tmp_path: Path) -> None:
    summary = compare_pairs(make_pairs(2), _jury(), tmp_path / "run")
    # Trials (oracle, first-1, first-2) in original positions:
    # p0 AB (A,A,A), p0 BA (A,B,B), p1 AB (B,A,A), p1 BA (B,B,B); the jury: A, B, A, B.
    # Fleiss: P_i = 1, 1/3, 1/3, 1 -> P = 2/3; p_A = p_B = 1/2 -> P_e = 1/2 -> kappa 1/3.
    # Krippendorff: o_AA = o_BB = 4, o_AB = o_BA = 2, n = 12 -> 1 - (4/12) / (72/132) = 7/18.
    block = summary.jury
    assert block is not None and block.trials == 4
    assert block.fleiss_kappa is not None and math.isclose(block.fleiss_kappa, 1 / 3)
    assert block.krippendorff_alpha is not None and math.isclose(block.krippendorff_alpha, 7 / 18)
    assert [m.agreement_with_jury for m in block.members] == [0.5, 1.0, 1.0]
    assert [m.decided for m in block.members] == [4, 4, 4]


def test_weights_change_the_outcome_under_weighted(tmp_path: Path) -> None:
    heavy = compare_pairs(make_pairs(8), _jury("weighted", (3, 1, 1)), tmp_path / "heavy")
    assert heavy.accuracy == 1.0 and heavy.consistency == 1.0
    even = compare_pairs(make_pairs(8), _jury("weighted", (2, 1, 1)), tmp_path / "even")
    # 2 against 1 + 1 wherever they disagree: a split jury, a tie, never a coin flip; the
    # order all agree on still decides the pair, so it is right but not consistent.
    assert even.accuracy == 1.0 and even.consistency == 0.0 and even.ties == 0
    assert [t.decision for t in _lines(tmp_path / "even")[0].judgments] == ["A>B", "A=B"]


def test_unanimous_needs_every_vote_and_any_is_refused(tmp_path: Path) -> None:
    summary = compare_pairs(make_pairs(4), _jury("unanimous"), tmp_path / "run")
    line = _lines(tmp_path / "run")[0]
    assert [t.decision for t in line.judgments] == ["A>B", "A=B"]
    assert summary.accuracy == 1.0 and summary.consistency == 0.0  # one order decides
    with pytest.raises(ConfigError, match="jury rule 'any'"):
        compare_pairs(make_pairs(1), _jury("any"), tmp_path / "any")


class _Failing:
    fingerprint = "down"

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        raise BackendError("connection refused")


def test_a_member_without_a_decision_does_not_vote(tmp_path: Path) -> None:
    jury = Jury(
        (
            JuryMember(ScriptedJudge(reply=_oracle, fingerprint="oracle")),
            JuryMember(_Failing()),
            JuryMember(ScriptedJudge(reply=lambda _: "no verdict here", fingerprint="mumbles")),
        )
    )
    summary = compare_pairs(make_pairs(4), jury, tmp_path / "run", reasks=1)
    assert summary.accuracy == 1.0 and summary.errors == 0  # the oracle alone voted
    assert summary.counts.failed_calls == 8 and summary.counts.unparseable_replies == 16
    assert summary.jury is not None
    down = summary.jury.members[1]
    assert down.errors == 8 and down.counts.error_pairs == 4 and down.decided == 0
    assert down.agreement_with_jury is None
    line = _lines(tmp_path / "run")[0]
    assert line.jury is not None
    assert line.jury[1].judgments[0].error == "failed_call: connection refused"
    assert line.jury[2].judgments[0].error == "unparseable"
    nobody = Jury(
        (JuryMember(_Failing()), JuryMember(ScriptedJudge(reply=lambda _: "?", fingerprint="q")))
    )
    failed = compare_pairs(make_pairs(2), nobody, tmp_path / "failed", reasks=0)
    assert failed.errors == 4 and failed.counts.error_pairs == 2
    assert _lines(tmp_path / "failed")[0].judgments[0].error == "no jury member decided"


def test_a_rerun_costs_no_calls_and_each_member_has_its_own_key(tmp_path: Path) -> None:
    store = Store(tmp_path / "cache.sqlite")
    jury = _jury()
    first = compare_pairs(make_pairs(6), jury, tmp_path / "one", store=store)
    judges = [m.judge for m in jury.members]
    calls = [j.calls for j in judges]  # type: ignore[attr-defined]
    second = compare_pairs(make_pairs(6), jury, tmp_path / "two", store=store)
    assert [j.calls for j in judges] == calls  # type: ignore[attr-defined]
    assert second.counts.judge_calls == 0 and second.counts.cache_hits == 36
    assert second.jury is not None and first.jury is not None
    assert second.jury.fleiss_kappa == first.jury.fleiss_kappa
    assert [m.counts.cache_hits for m in second.jury.members] == [12, 12, 12]
    lines = _lines(tmp_path / "two")
    assert all(t.cached for line in lines for m in line.jury or () for t in m.judgments)
    assert all(t.raw for line in lines for m in line.jury or () for t in m.judgments)
    # The oracle alone reads the answers its jury seat wrote; the jury's run is another run.
    alone = compare_pairs(make_pairs(6), judges[0], tmp_path / "alone", store=store)
    assert alone.counts.judge_calls == 0 and alone.accuracy == 1.0
    options = {"stage": "compare", "options": repr(CompareOptions())}
    jury_run = store.get_run(run_id_for({**options, "jury": jury.fingerprint}))
    oracle_run = store.get_run(run_id_for(options))
    assert jury_run is not None and jury_run.attempts == 2
    assert oracle_run is not None and oracle_run.attempts == 1
    store.close()


def test_a_run_without_a_jury_writes_no_jury_fields(tmp_path: Path) -> None:
    compare_pairs(make_pairs(2), ScriptedJudge(reply=_oracle), tmp_path / "run")
    line = json.loads((tmp_path / "run" / "pairs.jsonl").read_text().splitlines()[0])
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert "jury" not in line and "jury" not in summary


SAFE = Criterion(id="safe", text="Warns about the overdose risk.", points=1, required=True)
DOSE = Criterion(id="dose", text="Gives the adult dose.", points=5)


def _criteria_judge(request: JudgeRequest) -> str:
    first, second = shown(request)
    if criterion_id(request) == "safe":
        verdicts = {True: "met", False: "not_met"}
        return json.dumps({"A": verdicts["warn" in first], "B": verdicts["warn" in second]})
    return '{"winner": "A"}' if "dose" in first else '{"winner": "B"}'


def test_criterion_wise_members_decide_from_their_own_criteria(tmp_path: Path) -> None:
    pair = Pair(
        "c1",
        (Message("user", "How much paracetamol?"),),
        "The adult dose is 1 g.",
        "Careful: I warn you that more than 4 g a day is dangerous.",
        label="B>A",
        rubric=Rubric(id="r", criteria=(SAFE, DOSE)),
    )
    careful = ScriptedJudge(reply=_criteria_judge, fingerprint="careful")
    biased = ScriptedJudge(reply=_always_first, fingerprint="biased")
    jury = Jury((JuryMember(careful, 2.0), JuryMember(biased, 1.0)), "weighted")
    summary = compare_pairs([pair], jury, tmp_path / "run", options=CompareOptions())
    line = _lines(tmp_path / "run")[0]
    assert line.mode == "criteria" and line.criteria == []
    assert line.jury is not None
    careful_line, biased_line = line.jury
    assert [c.criterion_id for c in careful_line.criteria] == ["safe", "dose"]
    assert careful_line.decisions == ["B>A", "B>A"]  # the required warning vetoes A
    assert line.decisions == ["B>A", "B>A"] and summary.accuracy == 1.0
    # The biased judge cannot parse a requirement from {"winner": "A"}: its criterion errors
    # are counted, and the points it did give decide its own trials.
    assert summary.counts.criterion_errors == 2
    assert biased_line.decisions == ["A>B", "B>A"]
