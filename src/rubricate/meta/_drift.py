"""Two gradings of the same responses compared (``rubricate drift RUN_A RUN_B``).

Typical use: the same responses graded under two rubric versions, or by two judges.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rubricate.meta._criteria import sample_tags
from rubricate.meta._io import read_run
from rubricate.meta._stats import N_RESAMPLES, Estimate, paired_mean_difference
from rubricate.results import SampleResult, VerdictRecord

__all__ = ["CriterionDrift", "DriftReport", "ShiftGroup", "drift_between", "run_drift"]


@dataclass(frozen=True, slots=True)
class CriterionDrift:
    """How one criterion's verdicts changed over the samples that have it on both sides."""

    criterion_id: str  # as in run B
    criterion: str  # text in run B
    matched_by: str  # "id" or "text"
    compared: int
    changed: int
    transitions: dict[str, int]  # "met->not_met": count, ...

    def as_dict(self) -> dict[str, Any]:
        return {
            "criterion_id": self.criterion_id,
            "criterion": self.criterion,
            "matched_by": self.matched_by,
            "compared": self.compared,
            "changed": self.changed,
            "transitions": self.transitions,
        }


@dataclass(frozen=True, slots=True)
class ShiftGroup:
    """Mean score shift (B - A) over a group of samples, with a paired 95% interval."""

    shift: Estimate
    n: int
    share: float | None  # this group's summed shift over the summed shift of all samples

    def as_dict(self) -> dict[str, Any]:
        return {
            "shift": self.shift.value,
            "ci95": list(self.shift.ci95) if self.shift.ci95 else None,
            "n": self.n,
            "share": self.share,
        }


@dataclass(frozen=True, slots=True)
class DriftReport:
    """Verdict changes per criterion, score shifts overall / per tag / per axis, where they concentrate."""

    n_samples: int
    only_in_a: list[str]
    only_in_b: list[str]
    criteria: list[CriterionDrift]  # most changed first
    removed_criteria: int  # in A, no match in B (per sample)
    added_criteria: int  # in B, no match in A (per sample)
    overall: ShiftGroup
    by_tag: dict[str, ShiftGroup]
    by_axis: dict[str, ShiftGroup]
    concentrated: list[str]  # "tag:X" / "axis:Y" whose interval excludes 0, largest shift first
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "n_samples": self.n_samples,
            "seed": self.seed,
            "only_in_a": self.only_in_a,
            "only_in_b": self.only_in_b,
            "verdict_changes": sum(c.changed for c in self.criteria),
            "verdicts_compared": sum(c.compared for c in self.criteria),
            "removed_criteria": self.removed_criteria,
            "added_criteria": self.added_criteria,
            "criteria": [c.as_dict() for c in self.criteria],
            "overall": self.overall.as_dict(),
            "by_tag": {k: v.as_dict() for k, v in self.by_tag.items()},
            "by_axis": {k: v.as_dict() for k, v in self.by_axis.items()},
            "concentrated": self.concentrated,
        }


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


def _match(
    a: SampleResult, b: SampleResult
) -> tuple[list[tuple[VerdictRecord, VerdictRecord, str]], int, int]:
    """Criteria of one sample matched by id, then the rest by text; (pairs, only in A, only in B)."""
    left = {r.criterion_id: r for r in a.verdicts}
    pairs: list[tuple[VerdictRecord, VerdictRecord, str]] = []
    unmatched_b: list[VerdictRecord] = []
    for record in b.verdicts:
        first = left.pop(record.criterion_id, None)
        if first is not None:
            pairs.append((first, record, "id"))
        else:
            unmatched_b.append(record)
    by_text: dict[str, list[VerdictRecord]] = {}
    for record in left.values():
        by_text.setdefault(_normalise(record.criterion), []).append(record)
    added = 0
    for record in unmatched_b:
        candidates = by_text.get(_normalise(record.criterion))
        if candidates:
            pairs.append((candidates.pop(0), record, "text"))
        else:
            added += 1
    removed = sum(len(v) for v in by_text.values())
    return pairs, removed, added


def _shift(differences: list[float], total: float, n_resamples: int, seed: int) -> ShiftGroup:
    estimate = paired_mean_difference(
        [np.array([d]) for d in differences], n_resamples=n_resamples, seed=seed
    )
    share = float(sum(differences) / total) if total != 0 else None
    return ShiftGroup(estimate, len(differences), share)


def drift_between(
    run_a: Mapping[str, SampleResult],
    run_b: Mapping[str, SampleResult],
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> DriftReport:
    """Compare two gradings sample by sample (matched by sample id).

    Criteria are matched by id, then by whitespace- and case-normalised text. Score
    shifts are B - A over samples scored on both sides, per sample tag (HealthBench
    ``example_tags`` such as ``theme:...``) and per axis (the samples' axis scores); each
    interval resamples samples. A group concentrates the shift when its interval excludes 0.
    """
    common = [sample_id for sample_id in run_a if sample_id in run_b]
    tallies: dict[tuple[str, str], tuple[str, str, Counter[str]]] = {}
    removed = added = 0
    overall: list[float] = []
    tags: dict[str, list[float]] = {}
    axes: dict[str, list[float]] = {}
    for sample_id in common:
        a, b = run_a[sample_id], run_b[sample_id]
        pairs, only_a, only_b = _match(a, b)
        removed += only_a
        added += only_b
        for first, second, how in pairs:
            key = (second.criterion_id, _normalise(second.criterion))
            entry = tallies.setdefault(key, (second.criterion, how, Counter()))
            entry[2][f"{first.verdict}->{second.verdict}"] += 1
        if a.score is not None and b.score is not None:
            difference = b.score - a.score
            overall.append(difference)
            for tag in sorted(set(sample_tags(b))):
                tags.setdefault(tag, []).append(difference)
        for axis, value_b in b.axes.items():
            value_a = a.axes.get(axis)
            if value_a is not None and value_b is not None:
                axes.setdefault(axis, []).append(value_b - value_a)
    criteria = [
        CriterionDrift(
            criterion_id=key[0],
            criterion=text,
            matched_by=how,
            compared=sum(counter.values()),
            changed=sum(
                n for change, n in counter.items() if change.split("->")[0] != change.split("->")[1]
            ),
            transitions=dict(sorted(counter.items())),
        )
        for key, (text, how, counter) in tallies.items()
    ]
    criteria.sort(key=lambda c: (-c.changed, c.criterion_id))
    total = float(sum(overall))
    by_tag = {tag: _shift(values, total, n_resamples, seed) for tag, values in sorted(tags.items())}
    by_axis = {
        axis: _shift(values, 0.0, n_resamples, seed) for axis, values in sorted(axes.items())
    }
    flagged = [(f"tag:{k}", v) for k, v in by_tag.items()] + [
        (f"axis:{k}", v) for k, v in by_axis.items()
    ]
    concentrated = [
        name
        for name, group in sorted(flagged, key=lambda item: -abs(item[1].shift.value or 0.0))
        if group.shift.ci95 is not None and (group.shift.ci95[0] > 0 or group.shift.ci95[1] < 0)
    ]
    return DriftReport(
        n_samples=len(common),
        only_in_a=[s for s in run_a if s not in run_b],
        only_in_b=[s for s in run_b if s not in run_a],
        criteria=criteria,
        removed_criteria=removed,
        added_criteria=added,
        overall=_shift(overall, total, n_resamples, seed),
        by_tag=by_tag,
        by_axis=by_axis,
        concentrated=concentrated,
        seed=seed,
    )


def run_drift(
    run_a: str | Path, run_b: str | Path, *, n_resamples: int = N_RESAMPLES, seed: int = 0
) -> DriftReport:
    """``drift_between`` of two run directories (or results.jsonl files)."""
    return drift_between(read_run(run_a), read_run(run_b), n_resamples=n_resamples, seed=seed)
