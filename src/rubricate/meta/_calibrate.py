"""Fitting a calibration of each judge's P(met) from a run and criterion labels (``rubricate calibrate``).

Labels are the ``meta-eval criteria`` files (``{sample_id, criterion_id or criterion,
label | labels}``), matched to verdicts the same way. Each label of a binary criterion whose
verdict carries a P(met) is one point for the judge that gave it: the run's judge, or each
member of a jury (its vote's probability). A run graded with a calibration is refused: its
probabilities are already mapped.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rubricate.calibrate import CalibrationFile, JudgeCalibration, Method, fit_judge
from rubricate.errors import InputError
from rubricate.meta._criteria import _find, read_criterion_labels
from rubricate.meta._io import read_run, results_path

__all__ = ["CalibrationFit", "calibrate_run", "calibration_points"]


@dataclass(slots=True)
class CalibrationFit:
    """What ``calibrate_run`` fitted, and what it left out (counted by reason)."""

    file: CalibrationFile
    points: dict[str, int]
    left_out: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "digest": self.file.digest,
            "points": self.points,
            "left_out": dict(self.left_out),
            "judges": {
                fp: c.model_dump(mode="json", exclude={"isotonic_x", "isotonic_y"})
                for fp, c in self.file.judges.items()
            },
        }


def calibration_points(
    run: str | Path, labels: str | Path
) -> tuple[dict[str, tuple[list[float], list[bool]]], Counter[str]]:
    """Per judge fingerprint, (P(met) values, labels); and the labels left out, by reason."""
    results = read_run(run)
    path = results_path(run)
    graded = [r for r in results.values() if "+calibration:" in r.judge]
    if graded:
        raise InputError(
            f"sample '{graded[0].sample_id}' was graded with a calibration (its "
            "probabilities are already mapped): calibrate a run graded without one",
            file=str(path),
            field="judge",
        )
    points: dict[str, tuple[list[float], list[bool]]] = {}
    left_out: Counter[str] = Counter()
    for _, label in read_criterion_labels(labels):
        result = results.get(label.sample_id)
        if result is None:
            left_out["sample not in the run"] += len(label.all_labels)
            continue
        record = _find(result, label)
        if isinstance(record, str):
            left_out[record] += len(label.all_labels)
            continue
        if record.scale is not None and record.scale.kind != "binary":
            left_out[f"{record.scale.kind} criterion"] += len(label.all_labels)
            continue
        if record.jury:
            sources = [(vote.judge, vote.verdict, vote.probability) for vote in record.jury]
        else:
            sources = [(result.judge, record.verdict, record.probability)]
        for judge, verdict, probability in sources:
            if verdict not in ("met", "not_met"):
                left_out[f"verdict {verdict}"] += len(label.all_labels)
            elif probability is None:
                left_out["no probability (grade with --probabilities)"] += len(label.all_labels)
            else:
                values, truths = points.setdefault(judge, ([], []))
                for truth in label.all_labels:
                    values.append(probability)
                    truths.append(truth)
    return points, left_out


def calibrate_run(
    run: str | Path,
    labels: str | Path,
    *,
    method: Method | None = None,
    folds: int = 5,
    seed: int = 0,
) -> CalibrationFit:
    """Fit every judge of ``run`` against ``labels`` (see ``rubricate.calibrate.fit_judge``).

    Raises ``InputError`` when no judge has labelled points with both true and false labels.
    """
    points, left_out = calibration_points(run, labels)
    judges: dict[str, JudgeCalibration] = {}
    for judge, (values, truths) in points.items():
        try:
            judges[judge] = fit_judge(values, truths, method=method, folds=folds, seed=seed)
        except ValueError as error:
            left_out[f"judge {judge}: {error}"] += len(values)
    if not judges:
        reasons = "; ".join(f"{reason} ({n})" for reason, n in left_out.most_common(3))
        raise InputError(
            f"no judge could be calibrated: {reasons or 'no labelled verdicts'}", file=str(labels)
        )
    return CalibrationFit(
        CalibrationFile(judges=judges),
        {judge: len(values) for judge, (values, _) in points.items()},
        left_out,
    )
