"""The collector's pacing during runs: raised while any run is active, put back after."""

import asyncio
import gc
import sys
from collections.abc import Iterator

import pytest

from rubricate.backends.scripted import ScriptedJudge
from rubricate.engine import GradeOptions, Grader
from rubricate.engine._pacing import MIDDLE_GENERATION_EVERY, paced_collector
from rubricate.rubric import Criterion, Rubric
from rubricate.types import Message, Sample

pytestmark = pytest.mark.skipif(
    sys.implementation.name != "cpython" or sys.version_info >= (3, 14),
    reason="pacing applies to CPython's generational thresholds (3.10-3.13)",
)


@pytest.fixture(autouse=True)
def default_thresholds() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def test_thresholds_are_raised_inside_and_restored_after() -> None:
    with paced_collector():
        assert gc.get_threshold() == (700, MIDDLE_GENERATION_EVERY, 10)
    assert gc.get_threshold() == (700, 10, 10)


def test_overlapping_runs_restore_only_when_the_last_one_ends() -> None:
    first, second = paced_collector(), paced_collector()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first to start ends first
    assert gc.get_threshold() == (700, MIDDLE_GENERATION_EVERY, 10)
    second.__exit__(None, None, None)
    assert gc.get_threshold() == (700, 10, 10)


def test_restored_after_an_error() -> None:
    with pytest.raises(RuntimeError), paced_collector():
        raise RuntimeError("boom")
    assert gc.get_threshold() == (700, 10, 10)


def test_the_callers_own_settings_are_respected() -> None:
    gc.set_threshold(700, 500, 10)  # already paced slower than the run would
    with paced_collector():
        assert gc.get_threshold() == (700, 500, 10)
    assert gc.get_threshold() == (700, 500, 10)
    gc.set_threshold(0, 10, 10)  # threshold 0: collection disabled
    with paced_collector():
        assert gc.get_threshold() == (0, 10, 10)
    gc.set_threshold(700, 10, 10)
    with paced_collector():
        gc.set_threshold(1000, 20, 20)  # changed during the run: the change stands
    assert gc.get_threshold() == (1000, 20, 20)


def test_a_grading_run_is_paced_and_restores_the_thresholds() -> None:
    seen: list[tuple[int, int, int]] = []

    def decide(_id: str, _text: str) -> str:
        seen.append(gc.get_threshold())
        return "met"

    samples = [
        Sample(
            f"s{i}",
            (Message("user", f"question {i}"),),
            Rubric(id=f"r{i}", criteria=(Criterion(id="c", text="Is correct"),)),
            f"answer {i}",
        )
        for i in range(3)
    ]
    grader = Grader(ScriptedJudge(decide), options=GradeOptions())

    async def run() -> list[object]:
        return [r async for r in grader.iter_grade(samples)]

    results = asyncio.run(run())
    assert len(results) == 3 and len(seen) == 3
    assert set(seen) == {(700, MIDDLE_GENERATION_EVERY, 10)}
    assert gc.get_threshold() == (700, 10, 10)
