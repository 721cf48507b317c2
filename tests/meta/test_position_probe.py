"""The ``position`` probe both ways: a judge that favours a seat gains, one that reads content does not."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from rubricate.backends import ScriptedJudge
from rubricate.errors import ConfigError, InputError
from rubricate.meta import (
    PROBES,
    fail_on_gain,
    first_seat_preference,
    position_pair,
    probe_variants,
    run_probes,
    run_probes_async,
)
from rubricate.rubric import Criterion, Rubric
from rubricate.types import JudgeRequest, Message, Sample

SEATS = re.compile(r"<(response-([AB])-[0-9a-f]{16})>\n(.*?)\n</\1>", re.DOTALL)
N = 8
# Half the graded responses are the better answer, so a content judge's choice does not
# line up with any seat.
RESPONSES = [f"Answer {i}: " + ("rest and fluids" if i % 2 else "no idea") for i in range(N)]
SECONDS = {f"s{i}": f"Answer {i}: " + ("no idea" if i % 2 else "rest and fluids") for i in range(N)}

Choose = Callable[[str, str], str]  # (shown first, shown second) -> "A", "B" or "tie"


def samples() -> list[Sample]:
    rubric = Rubric(id="r", criteria=(Criterion(id="c0", text="Mentions rest", points=5),))
    return [
        Sample(f"s{i}", (Message("user", f"I have a cold ({i})."),), rubric, response)
        for i, response in enumerate(RESPONSES)
    ]


def seats(request: JudgeRequest) -> tuple[str, str]:
    found = {seat: text for _, seat, text in SEATS.findall(request.messages[1].content)}
    return found["A"], found["B"]


def pairwise_judge(choose: Choose) -> ScriptedJudge:
    return ScriptedJudge(reply=lambda r: json.dumps({"winner": choose(*seats(r))}))


def first_seat(_first: str, _second: str) -> str:
    return "A"


def second_seat(_first: str, _second: str) -> str:
    return "B"


def by_content(first: str, second: str) -> str:
    """Prefers the answer that mentions rest; a tie when both or neither do."""
    a, b = "rest" in first, "rest" in second
    return "tie" if a == b else "A" if a else "B"


def first_when_unsure(first: str, second: str) -> str:
    """Reads content, but breaks a tie by taking the first seat."""
    verdict = by_content(first, second)
    return "A" if verdict == "tie" else verdict


@pytest.mark.parametrize("second", [SECONDS, None], ids=["distinct", "identical"])
def test_a_seat_biased_judge_gains_and_a_content_judge_does_not(
    tmp_path: Path, second: dict[str, str] | None
) -> None:
    kind = "identical" if second is None else "distinct"
    bad = run_probes(
        samples(),
        pairwise_judge(first_seat),
        tmp_path / "bad",
        probes=["position"],
        second_responses=second,
        n_resamples=200,
    )
    good = run_probes(
        samples(),
        pairwise_judge(by_content),
        tmp_path / "good",
        probes=["position"],
        second_responses=second,
        n_resamples=200,
    )
    biased, honest = bad.probes["position"], good.probes["position"]
    assert (biased.gain.value, biased.gain.ci95, biased.flipped, biased.n) == (
        1.0,
        (1.0, 1.0),
        1.0,
        N,
    )
    assert (honest.gain.value, honest.gain.ci95, honest.flipped, honest.n) == (
        0.0,
        (0.0, 0.0),
        0.0,
        N,
    )
    assert fail_on_gain(bad, 0.5) == ["position"]
    assert fail_on_gain(good, 0.0) == []
    assert biased.by_variant == {kind: {"gain": 1.0, "n": N, "flipped": 1.0, "pairs": N}}
    written = json.loads((tmp_path / "bad" / "probes.json").read_text(encoding="utf-8"))
    assert list(written) == ["position"]
    entry = written["position"]
    assert (entry["gain"], entry["ci95"], entry["flipped"], entry["n"]) == (1.0, [1.0, 1.0], 1.0, N)
    assert (entry["mode"], entry["errors"], entry["baseline_errors"]) == ("pairwise", 0, 0)
    assert entry["by_variant"][kind]["pairs"] == N


def test_a_second_seat_bias_is_a_negative_gain() -> None:
    report = run_probes(
        samples(),
        pairwise_judge(second_seat),
        probes=["position"],
        second_responses=SECONDS,
        n_resamples=100,
    )
    outcome = report.probes["position"]
    assert (outcome.gain.value, outcome.flipped) == (-1.0, 1.0)
    assert outcome.gain.ci95 == (-1.0, -1.0)
    # The gate looks for gains; a bias to the second seat shows in the sign and in ``flipped``.
    assert fail_on_gain(report, 0.0) == []


def test_pair_kinds_are_counted_and_a_tie_breaker_bias_shows_on_identical_pairs() -> None:
    """Distinct pairs for half the samples: the judge is fair there, biased on the identical."""
    second = {k: v for k, v in SECONDS.items() if int(k[1:]) < N // 2}
    report = run_probes(
        samples(),
        pairwise_judge(first_when_unsure),
        probes=["position"],
        second_responses=second,
        n_resamples=100,
    )
    outcome = report.probes["position"]
    assert outcome.by_variant == {
        "distinct": {"gain": 0.0, "n": N // 2, "flipped": 0.0, "pairs": N // 2},
        "identical": {"gain": 1.0, "n": N // 2, "flipped": 1.0, "pairs": N // 2},
    }
    assert (outcome.gain.value, outcome.flipped, outcome.n) == (0.5, 0.5, N)
    assert (
        outcome.gain.ci95 is not None and 0.0 < outcome.gain.ci95[0] <= 0.5 <= outcome.gain.ci95[1]
    )


async def test_both_orders_are_asked_and_a_rerun_costs_no_calls(tmp_path: Path) -> None:
    shown: list[tuple[str, str]] = []

    def choose(first: str, second: str) -> str:
        shown.append((first, second))
        return by_content(first, second)

    store = tmp_path / "cache.sqlite"
    first = await run_probes_async(
        samples(),
        pairwise_judge(choose),
        probes=["position"],
        store=store,
        second_responses=SECONDS,
        n_resamples=0,
    )
    assert sorted(shown) == sorted(
        [(r, SECONDS[f"s{i}"]) for i, r in enumerate(RESPONSES)]
        + [(SECONDS[f"s{i}"], r) for i, r in enumerate(RESPONSES)]
    )
    assert first.probes["position"].judge_calls == 2 * N
    again_judge = pairwise_judge(choose)
    again = await run_probes_async(
        samples(),
        again_judge,
        probes=["position"],
        store=store,
        second_responses=SECONDS,
        n_resamples=0,
    )
    assert again_judge.calls == 0 and again.probes["position"].judge_calls == 0
    figures = ("gain", "ci95", "flipped", "n", "errors", "by_variant")
    before, after = first.probes["position"].as_dict(), again.probes["position"].as_dict()
    assert {k: after[k] for k in figures} == {k: before[k] for k in figures}


def test_error_replies_are_counted_not_scored() -> None:
    def reply(request: JudgeRequest) -> str:
        # A re-ask appends turns; the seats stay in the first user message.
        first = seats(request)[0]
        if first.startswith("Answer 0:") or first == RESPONSES[1]:
            return "Both are fine, I suppose."
        return json.dumps({"winner": "A"})

    judge = ScriptedJudge(reply=reply)
    report = run_probes(
        samples(), judge, probes=["position"], second_responses=SECONDS, n_resamples=100
    )
    outcome = report.probes["position"]
    # s0 fails in both orders; s1 only when its response is shown first.
    assert outcome.errors == 3
    assert (outcome.n, outcome.gain.value, outcome.flipped) == (N - 2, 1.0, 1.0)
    assert judge.calls == 2 * N + 3 * 2  # each unparseable reply asked again twice
    silent = ScriptedJudge(reply=lambda _r: "no idea")
    nothing = run_probes(samples(), silent, probes=["position"], n_resamples=100)
    assert (nothing.probes["position"].n, nothing.probes["position"].errors) == (0, 2 * N)
    assert (nothing.probes["position"].gain.value, nothing.probes["position"].flipped) == (
        None,
        None,
    )
    assert fail_on_gain(nothing, -1.0) == []


def test_position_runs_with_the_other_probes() -> None:
    def reply(request: JudgeRequest) -> str:
        if (
            "<criterion" in request.messages[-1].content
            and "response-A-" not in request.messages[-1].content
        ):
            return json.dumps({"verdict": "met"})
        return json.dumps({"winner": "A"})

    report = run_probes(samples(), ScriptedJudge(reply=reply), n_resamples=50)
    assert list(report.probes) == list(PROBES) and "position" in PROBES
    assert report.probes["position"].gain.value == 1.0
    assert report.probes["injection"].gain.value == 0.0


def test_the_pair_rule_and_bad_second_responses() -> None:
    sample = samples()[0]
    assert position_pair(sample, None)[0] == "identical"
    assert position_pair(sample, "   ")[0] == "identical"
    kind, pair = position_pair(sample, f"  {sample.response}\n")
    assert kind == "identical" and pair.response_a == pair.response_b == sample.response
    kind, pair = position_pair(sample, "Something else.")
    assert (kind, pair.id, pair.response_a, pair.response_b) == (
        "distinct", "s0#position:distinct", sample.response, "Something else.",
    )  # fmt: skip
    assert pair.rubric is None and pair.messages == sample.messages
    with pytest.raises(ConfigError, match="position_pair"):
        probe_variants("position", sample)
    judge = pairwise_judge(first_seat)
    with pytest.raises(InputError, match="second response 'nobody'"):
        run_probes(samples(), judge, probes=["position"], second_responses={"nobody": "x"})
    with pytest.raises(InputError, match="expected text, got int"):
        run_probes(samples(), judge, probes=["position"], second_responses={"s0": 3})  # type: ignore[dict-item]
    missing = [Sample("x", (Message("user", "q"),), samples()[0].rubric, None)]
    with pytest.raises(InputError, match="no response"):
        run_probes(missing, judge, probes=["position"])
    assert judge.calls == 0


def test_first_seat_preference() -> None:
    assert first_seat_preference(["A>B", "A>B"]) == 1.0
    assert first_seat_preference(["A>B", "B>A"]) == 0.0
    assert first_seat_preference(["A=B", "B>A"]) == -0.5
    with pytest.raises(ValueError, match="no decisions"):
        first_seat_preference([])
