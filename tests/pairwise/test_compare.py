"""The compare stage with scripted judges: position bias, oracle, re-asks, errors, cache, veto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rubricate.backends import ScriptedJudge
from rubricate.errors import BackendError, InputError
from rubricate.pairwise import CompareOptions, Pair, PairLine, compare_pairs
from rubricate.rubric import Criterion, Rubric
from rubricate.store import Store
from rubricate.types import JudgeReply, JudgeRequest, Message
from tests.pairwise.conftest import criterion_id, make_pairs, shown


def _always_first(request: JudgeRequest) -> str:
    return '{"winner": "A"}'


def _oracle(request: JudgeRequest) -> str:
    first, _ = shown(request)
    return "Checked both. [[A>>B]]" if first.startswith("RIGHT") else "[[B>A]]"


def _lines(out: Path) -> list[PairLine]:
    text = (out / "pairs.jsonl").read_text(encoding="utf-8")
    return [PairLine.model_validate_json(line) for line in text.splitlines()]


def test_a_judge_that_always_picks_the_first_seat(tmp_path: Path) -> None:
    judge = ScriptedJudge(reply=_always_first)
    summary = compare_pairs(make_pairs(8), judge, tmp_path / "run")
    assert summary.n_pairs == 8
    assert summary.accuracy == 0.0
    assert summary.consistency == 0.0
    assert summary.first_position_rate == 1.0
    assert summary.ties == 8 and summary.errors == 0
    assert judge.calls == 16
    line = _lines(tmp_path / "run")[0]
    assert [t.order for t in line.judgments] == ["AB", "BA"]
    assert [t.decision for t in line.judgments] == ["A>B", "A>B"]  # as the judge saw them
    assert line.decisions == ["A>B", "B>A"]  # mapped back: the swap flipped its choice
    assert line.net_vote == 0 and line.preference == "A=B" and line.correct is False
    assert line.consistent is False


def test_one_order_lets_position_bias_through(tmp_path: Path) -> None:
    summary = compare_pairs(
        make_pairs(8),
        ScriptedJudge(reply=_always_first),
        tmp_path / "run",
        options=CompareOptions(orders="one"),
    )
    assert summary.accuracy == 0.5  # right exactly where the right answer sat first
    assert summary.consistency is None
    assert summary.first_position_rate == 1.0


def test_an_oracle_judge_is_always_right(tmp_path: Path) -> None:
    summary = compare_pairs(make_pairs(8), ScriptedJudge(reply=_oracle), tmp_path / "run")
    assert summary.accuracy == 1.0
    assert summary.consistency == 1.0
    assert summary.first_position_rate == 0.5
    assert summary.ties == 0
    assert set(summary.by_source) == {"math", "code"}
    assert summary.by_source["math"].accuracy == 1.0 and summary.by_source["math"].n_pairs == 4
    line = _lines(tmp_path / "run")[0]
    assert line.judgments[0].strong is True
    assert line.judgments[0].raw == "Checked both. [[A>>B]]"
    assert summary.tokens.prompt > 0 and summary.counts.judge_calls == 16


def test_unlabelled_pairs_have_no_accuracy(tmp_path: Path) -> None:
    pairs = [Pair("u", (Message("user", "q"),), "RIGHT", "wrong")]
    summary = compare_pairs(pairs, ScriptedJudge(reply=_oracle), tmp_path / "run")
    assert summary.accuracy is None and summary.n_labelled == 0
    assert _lines(tmp_path / "run")[0].correct is None


def test_an_unparseable_reply_is_asked_again(tmp_path: Path) -> None:
    seen: list[int] = []

    def reply(request: JudgeRequest) -> str:
        seen.append(len(request.messages))
        if len(request.messages) == 2:
            return "Response A looks better to me."
        return _oracle(JudgeRequest(messages=request.messages[:2], criterion_ids=()))

    summary = compare_pairs(make_pairs(2), ScriptedJudge(reply=reply), tmp_path / "run")
    assert summary.accuracy == 1.0 and summary.errors == 0
    assert summary.counts.unparseable_replies == 4 and summary.counts.reasked == 4
    assert summary.counts.judge_calls == 8
    assert sorted(set(seen)) == [2, 4]  # the retry carries the first reply and a correction


def test_a_judge_that_never_answers_gives_errors_not_guesses(tmp_path: Path) -> None:
    judge = ScriptedJudge(reply=lambda request: "Both have merits.")
    store = Store(tmp_path / "cache.sqlite")
    summary = compare_pairs(make_pairs(2), judge, tmp_path / "run", store=store, reasks=1)
    assert summary.errors == 4 and summary.counts.error_pairs == 2
    assert summary.accuracy == 0.0 and summary.ties == 0
    assert summary.first_position_rate is None
    assert judge.calls == 8  # each order: the first ask and one re-ask
    line = _lines(tmp_path / "run")[0]
    assert line.preference is None and line.decisions == [None, None]
    assert line.judgments[0].error == "unparseable"
    assert line.judgments[0].raw == "Both have merits."
    # Errors are never cached: the next run asks again.
    compare_pairs(make_pairs(2), judge, tmp_path / "again", store=store, reasks=1)
    assert judge.calls == 16
    store.close()


class _Failing:
    fingerprint = "failing"

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        raise BackendError("connection refused")


def test_a_failed_call_is_an_error_decision(tmp_path: Path) -> None:
    summary = compare_pairs(make_pairs(1), _Failing(), tmp_path / "run")
    assert summary.errors == 2 and summary.counts.failed_calls == 2
    line = _lines(tmp_path / "run")[0]
    assert line.judgments[0].error == "failed_call: connection refused"


def test_a_rerun_is_answered_from_the_cache(tmp_path: Path) -> None:
    store = Store(tmp_path / "cache.sqlite")
    judge = ScriptedJudge(reply=_oracle)
    first = compare_pairs(make_pairs(6), judge, tmp_path / "one", store=store)
    calls = judge.calls
    second = compare_pairs(make_pairs(6), judge, tmp_path / "two", store=store)
    assert judge.calls == calls
    assert second.counts.cache_hits == 12 and second.counts.judge_calls == 0
    assert second.accuracy == first.accuracy
    strip = [line.model_dump(exclude={"judgments"}) for line in _lines(tmp_path / "one")]
    assert strip == [line.model_dump(exclude={"judgments"}) for line in _lines(tmp_path / "two")]
    assert all(t.cached for line in _lines(tmp_path / "two") for t in line.judgments)
    assert all(t.raw for line in _lines(tmp_path / "two") for t in line.judgments)
    store.close()


SAFE = Criterion(id="safe", text="Warns about the overdose risk.", points=1, required=True)
DOSE = Criterion(id="dose", text="Gives the adult dose.", points=5)
TONE = Criterion(id="tone", text="Is friendly.", points=1)


def _criteria_judge(request: JudgeRequest) -> str:
    """A's text is thorough but never warns; B warns. Decides by what each seat contains."""
    first, second = shown(request)
    ident = criterion_id(request)
    if ident == "safe":
        return json.dumps(
            {"A": "met" if "warn" in first else "not_met",
             "B": "met" if "warn" in second else "not_met"}
        )  # fmt: skip
    if ident == "dose":
        return '{"winner": "A"}' if "dose" in first else '{"winner": "B"}'
    return '{"winner": "tie"}'


def test_criteria_points_decide_and_a_required_criterion_vetoes(tmp_path: Path) -> None:
    rubric = Rubric(id="r", criteria=(DOSE, TONE))
    with_gate = Rubric(id="g", criteria=(DOSE, TONE, SAFE))
    a, b = "Take 400 mg (adult dose).", "Take some; I warn you not to exceed the label."
    pairs = [
        Pair("points", (Message("user", "ibuprofen?"),), a, b, label="A>B", rubric=rubric),
        Pair("veto", (Message("user", "ibuprofen?"),), a, b, label="B>A", rubric=with_gate),
    ]
    summary = compare_pairs(pairs, ScriptedJudge(reply=_criteria_judge), tmp_path / "run")
    assert summary.mode == "criteria"
    assert summary.accuracy == 1.0 and summary.consistency == 1.0
    points, veto = _lines(tmp_path / "run")
    assert points.preference == "A>B" and veto.preference == "B>A"
    safe = next(c for c in veto.criteria if c.criterion_id == "safe")
    assert safe.required and safe.winners == ["B", "B"]
    assert [t.order for t in safe.trials] == ["AB", "BA"]
    assert safe.trials[1].first_met is True  # B was shown first in the swapped order
    dose = next(c for c in veto.criteria if c.criterion_id == "dose")
    assert dose.winners == ["A", "A"] and dose.preference == "A>B"
    assert summary.counts.judge_calls == 2 * 2 + 3 * 2


def test_criteria_mode_needs_a_rubric(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no rubric"):
        compare_pairs(
            make_pairs(1),
            ScriptedJudge(reply=_oracle),
            tmp_path / "run",
            options=CompareOptions(mode="criteria"),
        )


def test_meta_eval_reads_pairs_jsonl_and_agrees(tmp_path: Path) -> None:
    from rubricate.meta import meta_eval_pairwise

    pairs = make_pairs(6)

    def half_right(request: JudgeRequest) -> str:
        first, second = shown(request)
        if "answer 0" in first or "answer 0" in second:
            return '{"winner": "A"}'  # position bias on one pair
        return _oracle(request)

    summary = compare_pairs(pairs, ScriptedJudge(reply=half_right), tmp_path / "run")
    report = meta_eval_pairwise(tmp_path / "run" / "pairs.jsonl")
    assert report.overall.accuracy == summary.accuracy == 5 / 6
    assert report.overall.consistency == summary.consistency == 5 / 6
    assert report.overall.ties == summary.ties == 1
