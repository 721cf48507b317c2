"""Sample-level correlation of a run's scores with human scores (``meta-eval scores``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, StrictFloat, StrictStr, field_validator

from rubricate.meta._criteria import UnmatchedLabel
from rubricate.meta._io import read_records, read_run
from rubricate.meta._stats import (
    N_RESAMPLES,
    Estimate,
    bootstrap_interval,
    kendall_tau_b,
    pearson,
    spearman,
)
from rubricate.results import SampleResult

__all__ = [
    "ScoreLabel",
    "ScoresReport",
    "meta_eval_scores",
    "read_score_labels",
    "score_correlation",
]


class ScoreLabel(BaseModel):
    """One line of a score label file: ``{sample_id, score}`` (a number; ``labeller`` optional)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    sample_id: StrictStr
    score: StrictFloat  # strict: an int is accepted, a bool or "0.5" is not
    labeller: StrictStr | None = None

    @field_validator("score")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("score must be a finite number")
        return value


@dataclass(frozen=True, slots=True)
class ScoresReport:
    """``meta-eval scores``: three correlations over the samples both sides scored."""

    n_samples: int
    spearman: Estimate
    kendall: Estimate
    pearson: Estimate
    unmatched: list[UnmatchedLabel]
    unscored: int  # labelled samples whose run score is None (every criterion errored)
    multi_labelled: int  # samples with several human scores (their mean is used)
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "n_samples": self.n_samples,
            "seed": self.seed,
            "spearman": self.spearman.as_dict(),
            "kendall": self.kendall.as_dict(),
            "pearson": self.pearson.as_dict(),
            "unmatched": {
                "count": len(self.unmatched),
                "labels": [
                    {"line": u.line, "sample_id": u.sample_id, "reason": u.reason}
                    for u in self.unmatched
                ],
            },
            "unscored": self.unscored,
            "multi_labelled": self.multi_labelled,
        }


def read_score_labels(path: str | Path) -> list[tuple[int, ScoreLabel]]:
    """All lines of a score label file; a bad line raises an ``InputError`` naming it."""
    return list(read_records(path, ScoreLabel))


def score_correlation(
    results: Mapping[str, SampleResult],
    labels: Iterable[tuple[int, ScoreLabel]],
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> ScoresReport:
    """Spearman's rho, Kendall's tau-b and Pearson's r of run scores against human scores.

    A sample with several human scores is compared with their mean. Samples whose run
    score is ``None`` are left out and counted; labels naming no sample are listed.
    Intervals resample samples.
    """
    human: dict[str, list[float]] = {}
    unmatched: list[UnmatchedLabel] = []
    for line, label in labels:
        if label.sample_id not in results:
            unmatched.append(
                UnmatchedLabel(line, label.sample_id, "", "no sample with this id in the run")
            )
            continue
        human.setdefault(label.sample_id, []).append(float(label.score))
    pairs = [
        (float(score), float(np.mean(values)))
        for sample_id, values in human.items()
        if (score := results[sample_id].score) is not None
    ]
    judge = np.array([p[0] for p in pairs], dtype=float)
    people = np.array([p[1] for p in pairs], dtype=float)
    options: dict[str, Any] = {"n_resamples": n_resamples, "seed": seed}
    return ScoresReport(
        n_samples=len(pairs),
        spearman=bootstrap_interval(spearman, judge, people, **options),
        kendall=bootstrap_interval(kendall_tau_b, judge, people, **options),
        pearson=bootstrap_interval(pearson, judge, people, **options),
        unmatched=unmatched,
        unscored=len(human) - len(pairs),
        multi_labelled=sum(1 for values in human.values() if len(values) > 1),
        seed=seed,
    )


def meta_eval_scores(
    run: str | Path, labels: str | Path, *, n_resamples: int = N_RESAMPLES, seed: int = 0
) -> ScoresReport:
    """``score_correlation`` of a run directory (or results.jsonl) with a score label file."""
    return score_correlation(
        read_run(run), read_score_labels(labels), n_resamples=n_resamples, seed=seed
    )
