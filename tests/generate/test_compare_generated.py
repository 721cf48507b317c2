"""Criterion-wise comparison by rubrics generated on the fly (scripted generator and judge)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rubricate.backends.scripted import ScriptedJudge
from rubricate.errors import BackendError, ConfigError
from rubricate.generate import (
    GenerateOptions,
    RubricGenerator,
    check_compare_strategy,
    compare_pairs_generating,
)
from rubricate.generate import GeneratingComparer as Generating
from rubricate.pairwise import CompareOptions, Pair
from rubricate.rubric import Criterion, Rubric
from rubricate.store import Store
from rubricate.types import JudgeRequest, Message
from tests.generate.conftest import criteria_json

_SEAT = re.compile(r"<(response-([AB])-[0-9a-f]+)>\n(.*?)\n</\1>", re.DOTALL)
_CRITERION = re.compile(r'<criterion id="[^"]+"[^>]*>\n?(.*?)\n?</criterion>', re.DOTALL)

# An essential hard rule (the prompt asks for 7) and three principles the verbose answer wins.
RUBRIC_REPLY = criteria_json(
    ("The number named in the answer is 7.", "hard_rule", "essential", "accuracy"),
    ("Defines a prime number as having exactly two divisors.", "principle", "important"),
    ("Lists the divisors of the named number.", "principle", "important"),
    ("Shows the division check for each smaller number.", "principle", "important"),
)
PROMPT = "Name the prime number seven asks for: which prime is 7, and list its divisors."
RIGHT = "7. It is prime."
VERBOSE = "9 is prime: a prime has exactly two divisors; 9 divides by 1 and 9; checked 2..8."


def _is_pairwise(request: JudgeRequest) -> bool:
    return any(_SEAT.search(m.content) for m in request.messages)


def judge_of(
    write: Callable[[JudgeRequest], str] = lambda _: RUBRIC_REPLY,
    seen: list[str] | None = None,
) -> ScriptedJudge:
    """Writes rubrics with ``write``; compares: the answer naming 7 meets the required
    criterion, and the verbose answer wins every other criterion."""

    def reply(request: JudgeRequest) -> str:
        if not _is_pairwise(request):
            if seen is not None:
                seen.append(request.messages[-1].content)
            return write(request)
        content = request.messages[-1].content
        seats = {seat: text for _, seat, text in _SEAT.findall(content)}
        if 'note="required"' in content:
            verdict = {True: "met", False: "not_met"}
            return json.dumps({s: verdict[text.startswith("7")] for s, text in seats.items()})
        return json.dumps({"winner": "A" if seats["A"] == VERBOSE else "B"})

    return ScriptedJudge(reply=reply)


def pairs(with_rubric: Rubric | None = None) -> list[Pair]:
    messages = (Message("user", PROMPT),)
    return [
        Pair("p0", messages, RIGHT, VERBOSE, label="A>B"),
        Pair("p1", messages, VERBOSE, RIGHT, label="B>A", rubric=with_rubric),
    ]


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_generated_essential_hard_rule_vetoes_and_a_rerun_costs_nothing(tmp_path: Path) -> None:
    judge = judge_of()
    with Store(tmp_path / "cache.sqlite") as store:
        summary = compare_pairs_generating(pairs(), judge, tmp_path / "run", store=store)
    generation = summary.rubric_generation
    assert generation is not None and generation.strategy == "from-prompt"
    assert (generation.generated, generation.from_data, generation.failed) == (2, 0, 0)
    # One generation call: both pairs share the prompt, and the second is deduplicated.
    assert generation.calls == 1 and generation.tokens.completion > 0
    lines = _lines(tmp_path / "run" / "pairs.jsonl")
    for line in lines:
        assert line["mode"] == "criteria" and line["rubric_source"] == "generated"
        required = [c for c in line["criteria"] if c["required"]]
        assert [c["criterion"] for c in required] == ["The number named in the answer is 7."]
        # The verbose answer wins 9 points to 0 on the principles; the veto still decides.
        assert [c["preference"] for c in line["criteria"] if not c["required"]] == [
            "A>B" if line["pair_id"] == "p1" else "B>A"
        ] * 3
    assert [line["preference"] for line in lines] == ["A>B", "B>A"]
    # 4 criteria x 2 orders; p1 is p0 with the seats swapped, so its orders are p0's, cached.
    assert summary.accuracy == 1.0 and summary.counts.judge_calls == 8
    assert summary.counts.cache_hits == 8
    rubrics = _lines(tmp_path / "run" / "rubrics.jsonl")
    assert [r["prompt_id"] for r in rubrics] == ["p0", "p1"]
    assert rubrics[0]["rubrics"][0]["required"] is True
    assert "required" not in rubrics[0]["rubrics"][1]
    assert rubrics[0]["provenance"]["strategy"] == "from-prompt"
    first_calls = judge.calls

    with Store(tmp_path / "cache.sqlite") as store:
        again = compare_pairs_generating(pairs(), judge, tmp_path / "run", store=store)
    assert judge.calls == first_calls
    assert again.rubric_generation is not None and again.rubric_generation.calls == 0
    assert again.counts.judge_calls == 0 and again.counts.cache_hits == 16
    assert _lines(tmp_path / "run" / "pairs.jsonl")[0]["decisions"] == lines[0]["decisions"]
    assert _lines(tmp_path / "run" / "rubrics.jsonl") == rubrics
    saved = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert saved["rubric_generation"]["generated"] == 2


@pytest.mark.parametrize(
    "reply", ["I would check the number.", '{"criteria": []}', '{"criteria": "seven"}']
)
def test_a_generator_writing_garbage_gives_counted_error_decisions(
    tmp_path: Path, reply: str
) -> None:
    judge = judge_of(lambda _: reply)
    summary = compare_pairs_generating(
        pairs(), judge, tmp_path / "run", generate_options=GenerateOptions(reasks=1)
    )
    generation = summary.rubric_generation
    assert generation is not None and generation.failed == 2 and generation.generated == 0
    assert len(generation.failures) == 2
    assert summary.counts.error_pairs == 2 and summary.errors == 4
    assert summary.counts.judge_calls == 0  # never compared some other way
    for line in _lines(tmp_path / "run" / "pairs.jsonl"):
        assert line["preference"] is None and line["rubric_source"] == "generated"
        errors = {trial["error"] for trial in line["judgments"]}
        assert len(errors) == 1 and errors.pop().startswith("rubric_generation_failed: ")
    assert (tmp_path / "run" / "rubrics.jsonl").read_text(encoding="utf-8") == ""


def test_a_failed_generation_call_is_counted_with_its_reason(tmp_path: Path) -> None:
    def down(_: JudgeRequest) -> str:
        raise BackendError("connection refused", retryable=False)

    summary = compare_pairs_generating(pairs(), judge_of(down), tmp_path / "run")
    generation = summary.rubric_generation
    assert generation is not None and generation.failed == 2 and generation.failed_calls >= 1
    (error,) = {t["error"] for t in _lines(tmp_path / "run" / "pairs.jsonl")[0]["judgments"]}
    assert "generator call failed" in error


def test_a_rubric_in_the_data_is_kept_without_a_generation_call(tmp_path: Path) -> None:
    own = Rubric(id="own", criteria=(Criterion(text="Lists the divisors 1 and 7.", points=2.0),))
    seen: list[str] = []
    summary = compare_pairs_generating(
        pairs(with_rubric=own), judge_of(seen=seen), tmp_path / "run"
    )
    assert len(seen) == 1  # only p0 needed a rubric
    generation = summary.rubric_generation
    assert generation is not None and (generation.generated, generation.from_data) == (1, 1)
    by_id = {line["pair_id"]: line for line in _lines(tmp_path / "run" / "pairs.jsonl")}
    assert by_id["p0"]["rubric_source"] == "generated" and len(by_id["p0"]["criteria"]) == 4
    assert by_id["p1"]["rubric_source"] == "data"
    assert [c["criterion"] for c in by_id["p1"]["criteria"]] == ["Lists the divisors 1 and 7."]
    assert [r["prompt_id"] for r in _lines(tmp_path / "run" / "rubrics.jsonl")] == ["p0"]


@pytest.mark.parametrize(
    ("strategy", "reason"),
    [
        ("contrastive", "label would leak"),
        ("refine", "graded responses"),
        ("nuggets", "reference answer"),
        ("bogus", "unknown"),
    ],
)
def test_strategies_that_cannot_serve_a_comparison_are_refused(strategy: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason) as raised:
        check_compare_strategy(strategy)
    assert "from-prompt" in str(raised.value) and "retrieve" in str(raised.value)


def test_contrastive_is_refused_before_any_call(tmp_path: Path) -> None:
    judge = judge_of()
    with pytest.raises(ConfigError, match="leak"):
        compare_pairs_generating(pairs(), judge, tmp_path / "run", strategy="contrastive")
    assert judge.calls == 0 and not (tmp_path / "run").exists()


def test_holistic_mode_uses_no_rubric_and_is_refused() -> None:
    judge = judge_of()
    generator = RubricGenerator("from-prompt", judge)
    with pytest.raises(ConfigError, match="holistic"):
        Generating(judge, generator, options=CompareOptions(mode="holistic"))


def test_a_failed_comparison_resumes_without_generating_again(tmp_path: Path) -> None:
    healthy = judge_of()
    failing = judge_of()
    inner = failing.reply
    assert inner is not None

    def flaky(request: JudgeRequest) -> str:
        if _is_pairwise(request):
            raise BackendError("judge went away", retryable=False)
        return inner(request)

    failing.reply = flaky
    with Store(tmp_path / "cache.sqlite") as store:
        broken = compare_pairs_generating(pairs(), failing, tmp_path / "run", store=store)
    assert broken.counts.error_pairs == 2 and broken.rubric_generation is not None
    assert broken.rubric_generation.calls == 1
    with Store(tmp_path / "cache.sqlite") as store:
        resumed = compare_pairs_generating(pairs(), healthy, tmp_path / "run", store=store)
    assert resumed.rubric_generation is not None and resumed.rubric_generation.calls == 0
    assert resumed.counts.error_pairs == 0 and resumed.accuracy == 1.0
