"""The meta-evaluation page: the judge's verdicts against human labels of the same criteria.

Agreement figures (accuracy, balanced F1, kappa, precision, recall, leniency, intervals) are
``meta.criteria_agreement``'s. The confusion matrix and the label-based reliability diagram
count each label once against its verdict, the same units as its ``pairwise`` counting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

import numpy as np

from rubricate.meta import CriteriaReport, CriterionLabel, criteria_agreement
from rubricate.report import _svg
from rubricate.results import SampleResult, VerdictRecord

__all__ = ["LabelCheck", "check_labels", "labels_section"]

_METRICS = ("accuracy", "balanced_f1", "kappa", "precision_met", "recall_met", "leniency")


@dataclass(frozen=True, slots=True)
class LabelCheck:
    """Agreement with labels: meta's report, the 2x2 counts and P(met) bins against labels."""

    report: CriteriaReport
    confusion: dict[str, int]  # judge_label: "met_met", "met_not", "not_met", "not_not"
    reliability: list[dict[str, Any]]


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def _match(result: SampleResult, label: CriterionLabel) -> VerdictRecord | None:
    for record in result.verdicts:
        if label.criterion_id is not None and record.criterion_id == label.criterion_id:
            return record
    if label.criterion is not None:
        found = [r for r in result.verdicts if _key(r.criterion) == _key(label.criterion)]
        return found[0] if len(found) == 1 else None
    return None


def check_labels(
    results: Mapping[str, SampleResult],
    labels: Iterable[tuple[int, CriterionLabel]],
    *,
    seed: int = 0,
    bins: int = 10,
) -> LabelCheck:
    lines = list(labels)
    report = criteria_agreement(results, lines, seed=seed)
    confusion = dict.fromkeys(("met_met", "met_not", "not_met", "not_not"), 0)
    probabilities: list[float] = []
    outcomes: list[float] = []
    for _, label in lines:
        result = results.get(label.sample_id)
        record = _match(result, label) if result is not None else None
        if record is None or record.verdict not in ("met", "not_met"):
            continue
        if record.scale is not None and record.scale.kind == "ordinal":
            continue
        judge = "met" if record.verdict == "met" else "not"
        for truth in label.all_labels:
            confusion[f"{judge}_{'met' if truth else 'not'}"] += 1
            if record.probability is not None:
                probabilities.append(record.probability)
                outcomes.append(1.0 if truth else 0.0)
    reliability = []
    if probabilities:
        p, y = np.array(probabilities), np.array(outcomes)
        index = np.minimum((p * bins).astype(int), bins - 1)
        for b in range(bins):
            chosen = index == b
            if chosen.any():
                reliability.append(
                    {
                        "low": b / bins,
                        "high": (b + 1) / bins,
                        "n": int(chosen.sum()),
                        "mean_p": float(p[chosen].mean()),
                        "met_rate": float(y[chosen].mean()),
                    }
                )
    return LabelCheck(report, confusion, reliability)


def _cell(metrics: Mapping[str, Any], name: str) -> str:
    estimate = metrics[name]
    if estimate.value is None:
        return "–"
    ci = estimate.ci95
    return f"{estimate.value:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def labels_section(check: LabelCheck) -> str:
    report = check.report
    groups = [("overall", report.overall), *((f"axis:{k}", v) for k, v in report.by_axis.items())]
    head = "".join(f"<th>{escape(m.replace('_', ' '))}</th>" for m in _METRICS)
    body = "".join(
        f"<tr><td>{escape(name)}</td><td class='num'>{group.n_labels}</td>"
        + "".join(f"<td class='num'>{_cell(group.metrics, m)}</td>" for m in _METRICS)
        + "</tr>"
        for name, group in groups
    )
    c = check.confusion
    matrix = (
        "<table class='confusion'><thead><tr><th></th><th>label met</th><th>label not met</th>"
        f"</tr></thead><tbody><tr><th>judge met</th><td class='num'>{c['met_met']}</td>"
        f"<td class='num'>{c['met_not']}</td></tr><tr><th>judge not met</th>"
        f"<td class='num'>{c['not_met']}</td><td class='num'>{c['not_not']}</td></tr></tbody></table>"
    )
    left_out = (
        f"<p class='note'>{len(report.unmatched)} labels matched no verdict; verdicts left out "
        f"(not met/not_met): {dict(report.excluded) or 'none'}.</p>"
    )
    return (
        "<h2 id='meta-eval'>Against labels</h2><p class='note'>Each label against the judge's "
        "verdict on its criterion (HealthBench's pairwise counting); intervals resample "
        "criteria.</p>"
        f"<table class='sortable agreement'><thead><tr><th>group</th><th>labels</th>{head}"
        f"</tr></thead><tbody>{body}</tbody></table>"
        + left_out
        + "<div class='plots'>"
        + matrix
        + (
            _svg.reliability(check.reliability, "Reliability of P(met) against labels")
            if check.reliability
            else ""
        )
        + "</div>"
    )
