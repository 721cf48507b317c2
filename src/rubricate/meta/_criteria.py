"""Criterion-level agreement of a run's verdicts with human labels (``meta-eval criteria``)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr, model_validator

from rubricate.meta._io import read_records, read_run
from rubricate.meta._stats import N_RESAMPLES, BinaryCounts, Estimate, binary_metrics
from rubricate.results import SampleResult, VerdictRecord

__all__ = [
    "Combine",
    "CriteriaReport",
    "CriterionLabel",
    "GroupAgreement",
    "UnmatchedLabel",
    "criteria_agreement",
    "meta_eval_criteria",
    "read_criterion_labels",
    "sample_tags",
]

Combine = Literal["pairwise", "majority"]


class CriterionLabel(BaseModel):
    """One line of a criterion label file.

    ``label`` (one labeller) or ``labels`` (several, as HealthBench's ``binary_labels``);
    the criterion by ``criterion_id``, else by its text ``criterion``.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    sample_id: StrictStr
    criterion_id: StrictStr | None = None
    criterion: StrictStr | None = None
    label: StrictBool | None = None
    labels: list[StrictBool] | None = None
    labeller: StrictStr | None = None

    @model_validator(mode="after")
    def _complete(self) -> CriterionLabel:
        if self.criterion_id is None and self.criterion is None:
            raise ValueError("needs 'criterion_id' or 'criterion'")
        if (self.label is None) == (self.labels is None):
            raise ValueError("needs exactly one of 'label' (true|false) or 'labels' (a list)")
        if self.labels is not None and not self.labels:
            raise ValueError("'labels' is empty")
        return self

    @property
    def all_labels(self) -> list[bool]:
        return list(self.labels) if self.labels is not None else [bool(self.label)]


@dataclass(frozen=True, slots=True)
class UnmatchedLabel:
    """A label line that compares with no verdict, and why."""

    line: int
    sample_id: str
    criterion: str
    reason: str


@dataclass(frozen=True, slots=True)
class GroupAgreement:
    """Agreement over one group of items (all, one axis, one tag)."""

    n_items: int
    n_labels: int
    metrics: dict[str, Estimate]

    def as_dict(self) -> dict[str, Any]:
        return {
            "n_items": self.n_items,
            "n_labels": self.n_labels,
            **{name: estimate.as_dict() for name, estimate in self.metrics.items()},
        }


@dataclass(frozen=True, slots=True)
class CriteriaReport:
    """``meta-eval criteria``: overall, per axis and per tag, labellers' own agreement, what was left out."""

    combine: Combine
    overall: GroupAgreement
    by_axis: dict[str, GroupAgreement]
    by_tag: dict[str, GroupAgreement]
    labellers: GroupAgreement | None  # each label against the item's other labels
    unmatched: list[UnmatchedLabel]
    excluded: dict[str, int]  # labelled criteria left out, by their verdict or scale
    tied_items: int  # majority only: items whose labels split evenly
    unlabelled_verdicts: int = 0
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "combine": self.combine,
            "seed": self.seed,
            "overall": self.overall.as_dict(),
            "by_axis": {k: v.as_dict() for k, v in self.by_axis.items()},
            "by_tag": {k: v.as_dict() for k, v in self.by_tag.items()},
            "labellers": self.labellers.as_dict() if self.labellers else None,
            "unmatched": {
                "count": len(self.unmatched),
                "labels": [
                    {
                        "line": u.line,
                        "sample_id": u.sample_id,
                        "criterion": u.criterion,
                        "reason": u.reason,
                    }
                    for u in self.unmatched
                ],
            },
            "excluded_verdicts": dict(self.excluded),
            "tied_items": self.tied_items,
            "unlabelled_verdicts": self.unlabelled_verdicts,
        }


def read_criterion_labels(path: str | Path) -> list[tuple[int, CriterionLabel]]:
    """All lines of a criterion label file; a bad line raises an ``InputError`` naming it."""
    return list(read_records(path, CriterionLabel))


def sample_tags(result: SampleResult) -> list[str]:
    """A sample's own tags: HealthBench ``example_tags`` (``theme:...``) or ``tags`` in its metadata."""
    tags: list[str] = []
    for key in ("example_tags", "tags"):
        value = result.metadata.get(key)
        if isinstance(value, list):
            tags.extend(str(tag) for tag in value)
    return tags


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass(slots=True)
class _Item:
    """A labelled criterion being collected (labels arrive over several lines)."""

    verdict: VerdictRecord
    tags: list[str]
    labels: list[bool] = field(default_factory=list)


def _find(result: SampleResult, label: CriterionLabel) -> VerdictRecord | str:
    if label.criterion_id is not None:
        for record in result.verdicts:
            if record.criterion_id == label.criterion_id:
                return record
    if label.criterion is not None:
        wanted = _normalise(label.criterion)
        found = [r for r in result.verdicts if _normalise(r.criterion) == wanted]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            return "criterion text matches several criteria of the sample"
    return "no criterion of the sample has this id or text"


def _unusable(record: VerdictRecord) -> str | None:
    """Why a verdict cannot be compared with a true/false label, or ``None`` when it can."""
    if record.verdict not in ("met", "not_met"):
        return record.verdict
    if record.scale is not None and record.scale.kind == "ordinal":
        return "ordinal criterion"
    return None


def _counts(items: Iterable[_Item], combine: Combine) -> tuple[BinaryCounts, int, int]:
    """Per-item 2x2 counts, labels used, and (majority) items left out as ties."""
    rows: list[tuple[float, float, float, float]] = []
    n_labels = 0
    ties = 0
    for item in items:
        met = item.verdict.verdict == "met"
        positive = sum(item.labels)
        negative = len(item.labels) - positive
        if combine == "majority":
            if positive == negative:
                ties += 1
                continue
            positive, negative = (1, 0) if positive > negative else (0, 1)
        n_labels += positive + negative
        rows.append((positive, negative, 0, 0) if met else (0, 0, positive, negative))
    array = np.array(rows, dtype=float).reshape(-1, 4)
    return BinaryCounts(array[:, 0], array[:, 1], array[:, 2], array[:, 3]), n_labels, ties


def _labeller_counts(items: Iterable[_Item]) -> BinaryCounts | None:
    """Each label taken in turn as the prediction, against the other labels of its item."""
    rows = []
    for item in items:
        k = len(item.labels)
        if k < 2:
            continue
        p = sum(item.labels)
        q = k - p
        rows.append((p * (p - 1), p * q, q * p, q * (q - 1)))
    if not rows:
        return None
    array = np.array(rows, dtype=float)
    return BinaryCounts(array[:, 0], array[:, 1], array[:, 2], array[:, 3])


def _group(items: list[_Item], combine: Combine, n_resamples: int, seed: int) -> GroupAgreement:
    counts, n_labels, _ = _counts(items, combine)
    return GroupAgreement(
        len(counts), n_labels, binary_metrics(counts, n_resamples=n_resamples, seed=seed)
    )


def criteria_agreement(
    results: Mapping[str, SampleResult],
    labels: Iterable[tuple[int, CriterionLabel]],
    *,
    combine: Combine = "pairwise",
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> CriteriaReport:
    """Agreement of ``met`` / ``not_met`` verdicts with labels, overall, per axis and per tag.

    Several labels of one criterion (lines with the same sample and criterion, or a
    ``labels`` list) are combined as ``combine`` says: ``pairwise`` (HealthBench's
    meta-evaluation: the verdict is compared with every label, so an item with three
    labels weighs three) or ``majority`` (one majority label per item; even splits are
    left out and counted as ``tied_items``). Intervals resample items. Verdicts that are
    not ``met`` / ``not_met`` (error, cannot_assess, partial, ordinal levels) are left out
    and counted by kind; label lines matching no verdict are listed with the reason.
    """
    items: dict[tuple[str, str], _Item] = {}
    unmatched: list[UnmatchedLabel] = []
    excluded: Counter[str] = Counter()
    excluded_items: set[tuple[str, str]] = set()
    for line, label in labels:
        shown = label.criterion_id if label.criterion_id is not None else str(label.criterion)
        result = results.get(label.sample_id)
        if result is None:
            unmatched.append(
                UnmatchedLabel(line, label.sample_id, shown, "no sample with this id in the run")
            )
            continue
        found = _find(result, label)
        if isinstance(found, str):
            unmatched.append(UnmatchedLabel(line, label.sample_id, shown, found))
            continue
        key = (label.sample_id, found.criterion_id)
        if key in excluded_items:
            continue
        if key not in items:
            kind = _unusable(found)
            if kind is not None:
                excluded_items.add(key)
                excluded[kind] += 1
                continue
            items[key] = _Item(found, sample_tags(result))
        items[key].labels.extend(label.all_labels)
    labelled = list(items.values())
    by_axis: dict[str, list[_Item]] = defaultdict(list)
    by_tag: dict[str, list[_Item]] = defaultdict(list)
    for item in labelled:
        axes = {t.removeprefix("axis:") for t in item.verdict.tags if t.startswith("axis:")}
        tags = {t for t in item.verdict.tags if not t.startswith("axis:")} | set(item.tags)
        for axis in axes:
            by_axis[axis].append(item)
        for tag in tags:
            by_tag[tag].append(item)
    _, _, ties = _counts(labelled, combine)
    labeller_counts = _labeller_counts(labelled)
    n_verdicts = sum(len(r.verdicts) for r in results.values())
    return CriteriaReport(
        combine=combine,
        overall=_group(labelled, combine, n_resamples, seed),
        by_axis={k: _group(v, combine, n_resamples, seed) for k, v in sorted(by_axis.items())},
        by_tag={k: _group(v, combine, n_resamples, seed) for k, v in sorted(by_tag.items())},
        labellers=None
        if labeller_counts is None
        else GroupAgreement(
            len(labeller_counts),
            int(sum(len(i.labels) for i in labelled if len(i.labels) > 1)),
            binary_metrics(labeller_counts, n_resamples=n_resamples, seed=seed),
        ),
        unmatched=unmatched,
        excluded=dict(excluded),
        tied_items=ties,
        unlabelled_verdicts=n_verdicts - len(labelled) - sum(excluded.values()),
        seed=seed,
    )


def meta_eval_criteria(
    run: str | Path,
    labels: str | Path,
    *,
    combine: Combine = "pairwise",
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> CriteriaReport:
    """``criteria_agreement`` of a run directory (or results.jsonl) with a label file."""
    return criteria_agreement(
        read_run(run),
        read_criterion_labels(labels),
        combine=combine,
        n_resamples=n_resamples,
        seed=seed,
    )
