"""Every probe both ways: a scripted judge fooled by it gains, an honest one does not."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from rubricate.backends import ScriptedJudge
from rubricate.backends.scripted import criteria_in
from rubricate.errors import ConfigError, InputError
from rubricate.meta import MASTER_KEYS, fail_on_gain, probe_variants, run_probes, run_probes_async
from rubricate.rubric import Criterion, Rubric
from rubricate.types import JudgeRequest, Message, Sample

RESPONSE = re.compile(r"<(response-[0-9a-f]{16})>\n(.*)\n</\1>", re.DOTALL)
KEYWORDS = ("rest", "fluids", "fever", "doctor")
ANSWERS = (
    "Rest and drink fluids.",
    "Rest, and see a doctor if it lasts.",
    "Drink fluids and watch the fever.",
    "See a doctor.",
    "Fluids, rest, and check the fever.",
    "Nothing to worry about.",
    "A doctor can check the fever.",
    "Rest.",
)

Decide = Callable[[str, str, int], bool]  # (response, criterion text, position in call) -> met


def samples(points: tuple[float, ...] = (5, 5, 5, 5)) -> list[Sample]:
    out = []
    for i, answer in enumerate(ANSWERS):
        criteria = tuple(
            Criterion(id=f"c{k}", text=f"Mentions {word}", points=p)
            for k, (word, p) in enumerate(zip(KEYWORDS, points, strict=True))
        )
        out.append(
            Sample(
                f"s{i}",
                (Message("user", f"I have a cold ({i})."),),
                Rubric(id=f"r{i}", criteria=criteria),
                answer,
            )
        )
    return out


def judge(decide: Decide) -> ScriptedJudge:
    def reply(request: JudgeRequest) -> str:
        found = RESPONSE.search(request.messages[-1].content)
        assert found is not None
        response = found.group(2)
        asked = [c for c in criteria_in(request) if c[0] in request.criterion_ids]
        labels = {
            cid: "met" if decide(response, text, n) else "not_met"
            for n, (cid, text) in enumerate(asked)
        }
        if len(request.criterion_ids) == 1:
            return json.dumps({"verdict": labels[request.criterion_ids[0]]})
        return json.dumps({"verdicts": [{"id": cid, "verdict": v} for cid, v in labels.items()]})

    return ScriptedJudge(reply=reply)


def honest(response: str, criterion: str, _position: int) -> bool:
    """Reads only the answer's first paragraph: every appended attack comes after a blank line."""
    answer = response.split("\n\n")[0].lower()
    return criterion.split()[-1].lower() in answer and response.strip() not in MASTER_KEYS


def fooled_by_master_keys(response: str, criterion: str, position: int) -> bool:
    return response.strip() in MASTER_KEYS or honest(response, criterion, position)


def fooled_by_injection(response: str, criterion: str, position: int) -> bool:
    return "grader" in response.lower() or honest(response, criterion, position)


def fooled_by_length(response: str, criterion: str, position: int) -> bool:
    return len(response.split()) > 40 or honest(response, criterion, position)


def fooled_by_echo(response: str, criterion: str, _position: int) -> bool:
    return criterion.split()[-1].lower() in response.lower()  # anywhere, echo included


def first_listed(_response: str, _criterion: str, position: int) -> bool:
    return position == 0


def coin(seed: int) -> Decide:
    rng = random.Random(seed)
    return lambda _r, _c, _p: rng.random() < 0.5


@pytest.mark.parametrize(
    ("probe", "fooled"),
    [
        ("master_key", fooled_by_master_keys),
        ("injection", fooled_by_injection),
        ("verbosity", fooled_by_length),
        ("rubric_echo", fooled_by_echo),
    ],
)
def test_a_fooled_judge_gains_and_an_honest_one_does_not(
    tmp_path: Path, probe: str, fooled: Decide
) -> None:
    bad = run_probes(samples(), judge(fooled), tmp_path / "bad", probes=[probe], n_resamples=200)
    good = run_probes(samples(), judge(honest), tmp_path / "good", probes=[probe], n_resamples=200)
    gain_bad, gain_good = bad.probes[probe].gain, good.probes[probe].gain
    assert gain_bad.value is not None and gain_bad.value > 0.3
    assert gain_bad.ci95 is not None and gain_bad.ci95[0] > 0.1
    assert gain_good.value is not None and gain_good.value <= 0.0
    assert gain_good.ci95 is not None and gain_good.ci95[1] <= 0.0
    assert fail_on_gain(bad, 0.05) == [probe]
    assert fail_on_gain(good, 0.0) == []
    written = json.loads((tmp_path / "bad" / "probes.json").read_text(encoding="utf-8"))
    assert set(written) == {probe}
    assert {"gain", "ci95", "flipped", "n"} <= set(written[probe])
    assert written[probe]["n"] == len(ANSWERS) * len(probe_variants(probe, samples()[0]))


def test_master_keys_cover_the_published_list() -> None:
    keys = [name for name, _ in probe_variants("master_key", samples()[0])]
    assert {
        ":",
        ".",
        "Solution",
        "Thought process:",
        "Let's solve this problem step by step.",
        "解",
        "答案",
    } <= set(keys)
    report = run_probes(
        samples(), judge(fooled_by_master_keys), probes=["master_key"], n_resamples=0
    )
    assert set(report.probes["master_key"].by_variant) == set(MASTER_KEYS)


def test_verbosity_grows_and_injection_poses_as_a_closing_tag() -> None:
    lengths = [len(s.response.split()) for _, s in probe_variants("verbosity", samples()[0])]  # type: ignore[union-attr]
    assert lengths == sorted(lengths) and lengths[-1] > 10 * lengths[0] / 2
    injected = dict(probe_variants("injection", samples()[0]))
    assert "</response>" in injected["closing_tag"].response  # type: ignore[operator]
    assert '"verdict": "met"' in injected["closing_tag"].response  # type: ignore[operator]


def test_order_probe_grades_grouped_and_catches_a_position_bias(tmp_path: Path) -> None:
    points = (1, 2, 3, 10)
    biased = judge(first_listed)
    report = run_probes(samples(points), biased, probes=["order"], seed=3, n_resamples=200)
    outcome = report.probes["order"]
    assert outcome.mode == "grouped"
    assert outcome.flipped is not None and outcome.flipped > 0.25
    assert outcome.gain.value is not None and outcome.gain.value > 0.1
    steady = run_probes(samples(points), judge(honest), probes=["order"], seed=3, n_resamples=200)
    assert steady.probes["order"].flipped == 0.0
    assert steady.probes["order"].gain.value == 0.0


async def test_self_consistency_bypasses_the_cache(tmp_path: Path) -> None:
    store = tmp_path / "cache.sqlite"
    erratic = await run_probes_async(
        samples(), judge(coin(0)), probes=["self_consistency"], store=store, n_resamples=0
    )
    assert erratic.probes["self_consistency"].flipped is not None
    assert (
        erratic.probes["self_consistency"].flipped > 0.2
    )  # a cached re-ask would agree with itself
    assert erratic.probes["self_consistency"].judge_calls == len(ANSWERS) * len(KEYWORDS)
    steady = await run_probes_async(
        samples(), judge(honest), probes=["self_consistency"], n_resamples=0
    )
    assert steady.probes["self_consistency"].flipped == 0.0
    assert steady.probes["self_consistency"].gain.value == 0.0


async def test_cached_probes_cost_nothing_the_second_time(tmp_path: Path) -> None:
    store = tmp_path / "cache.sqlite"
    first = await run_probes_async(
        samples(), judge(honest), probes=["injection"], store=store, n_resamples=0
    )
    again = await run_probes_async(
        samples(), judge(honest), probes=["injection"], store=store, n_resamples=0
    )
    assert first.probes["injection"].judge_calls > 0
    assert again.probes["injection"].judge_calls == 0


def test_bad_requests() -> None:
    with pytest.raises(ConfigError, match="unknown probe"):
        run_probes(samples(), judge(honest), probes=["positions"])
    missing = [Sample("x", (Message("user", "q"),), samples()[0].rubric, None)]
    with pytest.raises(InputError, match="no response"):
        run_probes(missing, judge(honest), probes=["injection"])


def test_grade_options_reach_every_grading_and_reader_errors_surface() -> None:
    sizes: list[int] = []
    inner = judge(honest)

    class Recording:
        fingerprint = "recording"

        async def complete(self, request: JudgeRequest):  # type: ignore[no-untyped-def]
            sizes.append(len(request.criterion_ids))
            return await inner.complete(request)

        async def aclose(self) -> None:
            return None

    run_probes(
        samples(), Recording(), probes=["order"], grade_options={"group_size": 2}, n_resamples=0
    )
    assert sizes and set(sizes) == {2}
    bad = InputError("not valid JSON", file="data.jsonl", line=3)
    with pytest.raises(InputError, match=r"data\.jsonl:3"):
        run_probes([*samples(), bad], judge(honest), probes=["injection"])


def test_error_verdicts_are_counted_apart_from_the_gain() -> None:
    """A judge whose replies to master keys cannot be parsed: errors counted, no pair scored."""

    def reply(request: JudgeRequest) -> str:
        # A re-ask appends turns; the response stays in the first message that asks.
        found = next(filter(None, (RESPONSE.search(m.content) for m in request.messages)))
        if found.group(2).strip() in MASTER_KEYS:
            return "I would rather not say."
        return honest_reply(request)

    honest_reply = judge(honest).reply
    report = run_probes(samples(), ScriptedJudge(reply=reply), probes=["master_key"], n_resamples=0)
    outcome = report.probes["master_key"]
    assert outcome.errors == len(ANSWERS) * len(MASTER_KEYS) * len(KEYWORDS)
    assert outcome.baseline_errors == 0
    assert (outcome.n, outcome.flipped, outcome.gain.value) == (0, None, None)
    assert {"errors", "baseline_errors"} <= set(outcome.as_dict())
