"""A jury through the grader with scripted judges: votes kept, per-judge cache keys and counts,
agreement in the summary, calibration applied per judge."""

import asyncio

import pytest

from rubricate.backends.scripted import ScriptedJudge
from rubricate.calibrate import CalibrationFile, JudgeCalibration
from rubricate.engine import GradeOptions, Grader, Jury, JuryMember
from rubricate.errors import ConfigError
from rubricate.runs import RunAccumulator
from rubricate.store import open_store
from tests.helpers import make_sample


def judges():
    # Criterion 0: all met; 1: two of three met; 2: one of three met; 3: one met, one not, one error.
    plans = {
        "a": ["met", "met", "met", "met"],
        "b": ["met", "met", "not_met", "not_met"],
        "c": ["met", "not_met", "not_met", "garbage"],
    }

    def decide_for(name):
        return lambda _id, text: plans[name][int(text.rsplit(" ", 1)[1])]

    return {name: ScriptedJudge(decide_for(name), fingerprint=f"judge-{name}") for name in plans}


async def grade(grader, samples):
    accumulator = RunAccumulator()
    results = []
    async for result in grader.iter_grade(samples):
        results.append(result)
        accumulator.add(result)
    return results, accumulator.graded(grader)


def test_majority_jury_keeps_each_vote_and_reports_agreement(tmp_path) -> None:
    scripted = judges()
    jury = Jury(tuple(JuryMember(j) for j in scripted.values()), "majority")
    store, _ = open_store(tmp_path / "c.sqlite")
    grader = Grader(scripted["a"], store=store, options=GradeOptions(reasks=0), jury=jury)
    results, summary = asyncio.run(grade(grader, [make_sample("s1", [1, 1, 1, 1])]))
    records = results[0].verdicts
    assert [r.verdict for r in records] == ["met", "met", "not_met", "cannot_assess"]
    assert [v.judge for v in records[1].jury] == ["judge-a", "judge-b", "judge-c"]
    assert [v.verdict for v in records[3].jury] == ["met", "not_met", "error"]
    assert results[0].judge == jury.fingerprint
    assert summary.judge.startswith("jury:majority[judge-a*1,")
    agreement = summary.jury
    assert agreement is not None and agreement["rule"] == "majority"
    # Each judge's share of criteria agreeing with the jury (the tie is no jury decision).
    assert agreement["judges"]["judge-a"]["agreement_with_jury"] == pytest.approx(2 / 3)
    assert agreement["judges"]["judge-b"]["agreement_with_jury"] == 1.0
    assert agreement["judges"]["judge-c"]["agreement_with_jury"] == pytest.approx(2 / 3)
    assert agreement["judges"]["judge-a"]["calls"] == 4
    # Three complete criteria (c3 has an error): met x3, (m, m, n), (m, n, n).
    assert agreement["fleiss_kappa"] == pytest.approx(fleiss_by_hand())
    assert summary.counts.judge_calls == 12
    # Every judge has its own cache key: a second run asks no one.
    again = judges()
    jury2 = Jury(tuple(JuryMember(j) for j in again.values()), "majority")
    grader2 = Grader(again["a"], store=store, options=GradeOptions(reasks=0), jury=jury2)
    _, summary2 = asyncio.run(grade(grader2, [make_sample("s1", [1, 1, 1, 1])]))
    # Only judge c's error is asked again.
    assert [j.calls for j in again.values()] == [0, 0, 1]
    assert summary2.counts.cache_hits == 11
    store.close()


def fleiss_by_hand() -> float:
    p_i = [1.0, 1 / 3, 1 / 3]  # (n_met^2 + n_not^2 - 3) / 6
    p_bar = sum(p_i) / 3
    p_met, p_not = 6 / 9, 3 / 9
    p_e = p_met**2 + p_not**2
    return (p_bar - p_e) / (1 - p_e)


def test_unanimous_and_any_rules_through_the_grader() -> None:
    for rule, expected in (
        ("unanimous", ["met", "not_met", "not_met", "not_met"]),
        ("any", ["met", "met", "met", "met"]),
    ):
        scripted = judges()
        jury = Jury(tuple(JuryMember(j) for j in scripted.values()), rule)
        grader = Grader(scripted["a"], options=GradeOptions(reasks=0), jury=jury)
        results, _ = asyncio.run(grade(grader, [make_sample("s1", [1, 1, 1, 1])]))
        assert [r.verdict for r in results[0].verdicts] == expected, rule


def test_a_jury_refuses_one_judge_twice_and_a_lone_judge() -> None:
    same = ScriptedJudge(fingerprint="x")
    with pytest.raises(ConfigError, match="same fingerprint"):
        Jury((JuryMember(same), JuryMember(ScriptedJudge(fingerprint="x"))))
    with pytest.raises(ConfigError, match="at least two"):
        Jury((JuryMember(same),))


def _calibration(threshold: float) -> JudgeCalibration:
    return JudgeCalibration(
        method="isotonic",
        threshold=threshold,
        n=4,
        positives=2,
        platt=(1.0, 0.0),
        temperature=1.0,
        isotonic_x=[0.0, 1.0],
        isotonic_y=[0.2, 0.6],  # P(met) 0.9 -> 0.56
    )


def test_calibration_maps_probability_and_decides_at_the_threshold(tmp_path) -> None:
    judge = ScriptedJudge(lambda _i, _t: "met", fingerprint="judge-p", probability=0.9)
    calibration = CalibrationFile(judges={"judge-p": _calibration(0.6)})
    store, _ = open_store(tmp_path / "c.sqlite")
    options = GradeOptions(probabilities=True)
    grader = Grader(judge, store=store, options=options, calibration=calibration)
    results, summary = asyncio.run(grade(grader, [make_sample("s1", [1, 2])]))
    record = results[0].verdicts[0]
    assert record.raw_probability == pytest.approx(0.9)
    assert record.probability == pytest.approx(0.2 + 0.4 * 0.9)
    assert record.verdict == "not_met"  # 0.56 < 0.6
    assert results[0].judge == f"judge-p+calibration:{calibration.digest}"
    assert summary.judge == results[0].judge
    # The cache keeps the judge's own verdict: without the calibration it is met again.
    plain = Grader(ScriptedJudge(fingerprint="judge-p"), store=store, options=options)
    uncalibrated, _ = asyncio.run(grade(plain, [make_sample("s1", [1, 2])]))
    assert uncalibrated[0].verdicts[0].verdict == "met"
    assert uncalibrated[0].verdicts[0].probability == pytest.approx(0.9)
    store.close()
    with pytest.raises(ConfigError, match="no map for judge other"):
        Grader(ScriptedJudge(fingerprint="other"), calibration=calibration)


def test_each_jury_judge_is_calibrated_by_its_own_map_before_the_vote() -> None:
    low = ScriptedJudge(fingerprint="judge-low", probability=0.9)
    high = ScriptedJudge(fingerprint="judge-high", probability=0.9)
    third = ScriptedJudge(lambda _i, _t: "not_met", fingerprint="judge-no", probability=0.1)
    calibration = CalibrationFile(
        judges={
            "judge-low": _calibration(0.6),  # 0.9 -> 0.56: not_met
            "judge-high": _calibration(0.5),  # 0.9 -> 0.56: met
            "judge-no": _calibration(0.5),  # 0.1 -> 0.24: not_met
        }
    )
    jury = Jury((JuryMember(low), JuryMember(high), JuryMember(third)), "majority")
    grader = Grader(
        low, options=GradeOptions(probabilities=True), jury=jury, calibration=calibration
    )
    results, _ = asyncio.run(grade(grader, [make_sample("s1", [1])]))
    record = results[0].verdicts[0]
    assert [v.verdict for v in record.jury or []] == ["not_met", "met", "not_met"]
    assert record.verdict == "not_met"
    assert results[0].judge.endswith(f"+calibration:{calibration.digest}")
    with pytest.raises(ConfigError, match="no map for judge judge-x"):
        Grader(
            low,
            jury=Jury((JuryMember(low), JuryMember(ScriptedJudge(fingerprint="judge-x")))),
            calibration=calibration,
        )
