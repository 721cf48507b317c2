"""Two runs over the same samples: paired differences, wins and losses, flipped criteria."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from rubricate.meta import Estimate, paired_mean_difference
from rubricate.report._analysis import sample_tag_scores
from rubricate.results import SampleResult

__all__ = ["Comparison", "FlipRow", "compare_runs"]

_TIE = 1e-9  # scores equal up to float noise are a tie
_GRADABLE = ("met", "not_met", "partial", "blocked")


@dataclass(frozen=True, slots=True)
class FlipRow:
    """A criterion text and how often its verdict differs between the runs (gradable on both)."""

    text: str
    points: float
    flipped: int
    compared: int
    to_met: int  # not met in the first run, met in the second


@dataclass(frozen=True, slots=True)
class Comparison:
    """Second run minus first, over samples scored in both.

    ``overall`` and each group's estimate are the mean paired difference with a bootstrap
    interval that resamples samples (``meta.paired_mean_difference``).
    """

    n_paired: int
    only_first: int
    only_second: int
    overall: Estimate
    groups: dict[str, tuple[int, Estimate]]  # axis:NAME / theme:... -> (n, estimate)
    wins: int
    ties: int
    losses: int
    flips: list[FlipRow]
    pairs: list[tuple[float, float]]  # (first, second) per paired sample


def _difference(diffs: list[float], seed: int) -> Estimate:
    return paired_mean_difference([np.array([d]) for d in diffs], seed=seed)


def _grouped(result: SampleResult) -> dict[str, float]:
    groups = {f"axis:{k}": v for k, v in result.axes.items() if v is not None}
    groups.update(
        (tag, score)
        for tag, score in sample_tag_scores(result).items()
        if tag.startswith(("theme:", "cluster:"))
    )
    return groups


def compare_runs(
    first: Mapping[str, SampleResult],
    second: Mapping[str, SampleResult],
    *,
    seed: int = 0,
    top_flips: int = 30,
) -> Comparison:
    """Paired figures of ``second`` against ``first`` (both keyed by sample id)."""
    common = [sid for sid in first if sid in second]
    pairs: list[tuple[float, float]] = []
    group_diffs: dict[str, list[float]] = {}
    flips: dict[tuple[str, float], list[int]] = {}
    for sid in common:
        a, b = first[sid], second[sid]
        if a.score is not None and b.score is not None:
            pairs.append((a.score, b.score))
        ga, gb = _grouped(a), _grouped(b)
        for name in ga.keys() & gb.keys():
            group_diffs.setdefault(name, []).append(gb[name] - ga[name])
        theirs = {r.criterion_id: r for r in b.verdicts}
        for record in a.verdicts:
            other = theirs.get(record.criterion_id)
            if other is None or record.verdict not in _GRADABLE or other.verdict not in _GRADABLE:
                continue
            key = (" ".join(record.criterion.split()), record.points)
            tally = flips.setdefault(key, [0, 0, 0])
            tally[1] += 1
            if (record.verdict, record.level) != (other.verdict, other.level):
                tally[0] += 1
                tally[2] += 1 if other.verdict == "met" and record.verdict != "met" else 0
    diffs = [b - a for a, b in pairs]
    flip_rows = sorted(
        (
            FlipRow(text, points, n_flip, n, to_met)
            for (text, points), (n_flip, n, to_met) in flips.items()
            if n_flip
        ),
        key=lambda row: (-row.flipped, -row.flipped / row.compared, row.text),
    )
    return Comparison(
        n_paired=len(pairs),
        only_first=sum(1 for sid in first if sid not in second),
        only_second=sum(1 for sid in second if sid not in first),
        overall=_difference(diffs, seed),
        groups={
            name: (len(values), _difference(values, seed))
            for name, values in sorted(group_diffs.items())
        },
        wins=sum(1 for d in diffs if d > _TIE),
        ties=sum(1 for d in diffs if abs(d) <= _TIE),
        losses=sum(1 for d in diffs if d < -_TIE),
        flips=flip_rows[:top_flips],
        pairs=pairs,
    )
