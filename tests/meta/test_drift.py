"""``rubricate drift``: verdict changes matched by id then text, score shifts per tag and axis."""

from __future__ import annotations

from pathlib import Path

import pytest

from rubricate.meta import run_drift
from tests.meta.runs import result, verdict, write_run


def two_runs(tmp_path: Path) -> tuple[Path, Path]:
    a, b = [], []
    for i in range(12):
        theme = "theme:emergency" if i < 6 else "theme:hedging"
        a.append(
            result(
                f"s{i}",
                [
                    verdict("c1", "met", text="Advises rest"),
                    verdict("c2", "not_met", text="Mentions fever"),
                    verdict("old", "met", text="Dropped criterion"),
                ],
                score=0.5,
                tags=[theme],
                axes={"accuracy": 0.5},
            )
        )
        # Version B renames c2 (same text) and, on emergency samples only, now fails c1.
        emergency = i < 6
        b.append(
            result(
                f"s{i}",
                [
                    verdict("c1", "not_met" if emergency else "met", text="Advises rest"),
                    verdict("c2-v2", "not_met", text="mentions  FEVER"),
                    verdict("new", "met", text="Added criterion"),
                ],
                score=0.2 if emergency else 0.5,
                tags=[theme],
                axes={"accuracy": 0.3 if emergency else 0.5},
            )
        )
    a.append(result("only-a", [verdict("c1", "met")]))
    return write_run(tmp_path / "a", a), write_run(tmp_path / "b", b)


def test_drift_finds_the_changed_criterion_and_where_the_shift_is(tmp_path: Path) -> None:
    run_a, run_b = two_runs(tmp_path)
    report = run_drift(run_a, run_b, n_resamples=200)
    assert report.n_samples == 12
    assert report.only_in_a == ["only-a"]
    top = report.criteria[0]
    assert (top.criterion_id, top.changed, top.compared) == ("c1", 6, 12)
    assert top.transitions == {"met->met": 6, "met->not_met": 6}
    renamed = next(c for c in report.criteria if c.criterion_id == "c2-v2")
    assert (renamed.matched_by, renamed.changed) == ("text", 0)
    assert (report.removed_criteria, report.added_criteria) == (12, 12)
    assert report.overall.shift.value == pytest.approx(-0.15)
    assert report.by_tag["theme:emergency"].shift.value == pytest.approx(-0.3)
    assert report.by_tag["theme:emergency"].share == pytest.approx(1.0)
    assert report.by_tag["theme:hedging"].shift.value == 0.0
    assert report.by_axis["accuracy"].shift.value == pytest.approx(-0.1)
    assert report.concentrated == ["tag:theme:emergency", "axis:accuracy"]
    data = report.as_dict()
    assert data["verdict_changes"] == 6


def test_identical_runs_show_no_drift(tmp_path: Path) -> None:
    run_a, _ = two_runs(tmp_path)
    report = run_drift(run_a, run_a, n_resamples=50)
    assert all(c.changed == 0 for c in report.criteria)
    assert report.overall.shift.value == 0.0
    assert report.concentrated == []
