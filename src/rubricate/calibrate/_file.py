"""Per-judge calibration: fitting with held-out measurement, and the ``calibration.json`` file.

A judge's calibration is the map chosen among Platt, temperature and isotonic (lowest
expected calibration error on held-out folds, unless one is asked for) fitted on every label,
and the threshold on the calibrated probability that maximises balanced accuracy. The file
is keyed by judge fingerprint; grading with it records its digest in the judge fingerprint
of every result, so a run says which calibration made its labels.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rubricate.calibrate._maps import (
    IsotonicMap,
    ScalingMap,
    balanced_accuracy,
    best_threshold,
    expected_calibration_error,
    fit_isotonic,
    fit_platt,
    fit_temperature,
)
from rubricate.errors import InputError

__all__ = [
    "METHODS",
    "CalibrationFile",
    "HeldOut",
    "JudgeCalibration",
    "Method",
    "fit_judge",
    "read_calibration",
]

Method = Literal["platt", "temperature", "isotonic"]
METHODS: tuple[Method, ...] = ("platt", "temperature", "isotonic")
_Map = ScalingMap | IsotonicMap


class HeldOut(BaseModel):
    """Out-of-fold figures: each fold's items predicted by maps fitted on the other folds."""

    model_config = ConfigDict(frozen=True)

    folds: int
    seed: int
    ece_before: float  # of the judge's own P(met)
    ece_after: dict[str, float]  # per method
    balanced_accuracy_before: float  # met when P(met) >= 0.5
    balanced_accuracy_after: float  # chosen method and its threshold, both fitted per fold


class JudgeCalibration(BaseModel):
    """One judge's fitted maps, the one applied (``method``) and its decision threshold."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Method
    threshold: float = Field(ge=0.0, le=1.0)
    n: int = Field(ge=1)
    positives: int = Field(ge=0)
    platt: tuple[float, float]  # a, b
    # T of sigmoid(logit(p) / T); negative for a judge whose P(met) runs against the labels
    temperature: float
    isotonic_x: list[float]
    isotonic_y: list[float]
    held_out: HeldOut | None = None

    @model_validator(mode="after")
    def _isotonic_shape(self) -> JudgeCalibration:
        if self.temperature == 0:
            raise ValueError("temperature must not be 0")
        if len(self.isotonic_x) != len(self.isotonic_y) or not self.isotonic_x:
            raise ValueError("isotonic_x and isotonic_y must be equally long and not empty")
        if any(b < a for a, b in zip(self.isotonic_x, self.isotonic_x[1:], strict=False)):
            raise ValueError("isotonic_x must be increasing")
        return self

    def map(self, method: Method | None = None) -> _Map:
        chosen = method or self.method
        if chosen == "platt":
            return ScalingMap(*self.platt)
        if chosen == "temperature":
            return ScalingMap(1.0 / self.temperature)
        return IsotonicMap(tuple(self.isotonic_x), tuple(self.isotonic_y))

    def apply(self, p: float) -> tuple[float, bool]:
        """Calibrated P(met) of ``p`` and whether it says ``met`` at the threshold."""
        q = float(self.map().apply([p])[0])
        return q, q >= self.threshold


class CalibrationFile(BaseModel):
    """``calibration.json``: per judge fingerprint, its calibration."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    judges: dict[str, JudgeCalibration] = Field(min_length=1)

    @property
    def digest(self) -> str:
        """Short hash of what grading applies (maps, methods, thresholds): goes into results."""
        applied = {
            fp: c.model_dump(mode="json", exclude={"held_out"}) for fp, c in self.judges.items()
        }
        text = json.dumps(applied, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _fit(method: Method, p: np.ndarray, y: np.ndarray) -> _Map:
    if method == "platt":
        return fit_platt(p, y)
    if method == "temperature":
        return fit_temperature(p, y)
    return fit_isotonic(p, y)


def _folds(y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold index per item: shuffled with ``seed``, each class dealt round-robin (stratified)."""
    rng = np.random.default_rng(seed)
    assignment = np.zeros(len(y), dtype=int)
    for value in (0.0, 1.0):
        members = rng.permutation(np.flatnonzero(y == value))
        assignment[members] = np.arange(len(members)) % folds
    return assignment


def fit_judge(
    p: Sequence[float],
    y: Sequence[bool],
    *,
    method: Method | None = None,
    folds: int = 5,
    seed: int = 0,
) -> JudgeCalibration:
    """Fit one judge's calibration on P(met) ``p`` and labels ``y``.

    Held-out figures use ``folds`` stratified folds (fewer when a class has fewer items;
    none below two). ``method`` ``None`` applies the lowest held-out ECE (isotonic without
    folds). Raises ``ValueError`` without both a positive and a negative label.
    """
    probs = np.asarray(p, dtype=np.float64)
    labels = np.asarray(y, dtype=np.float64)
    positives = int(labels.sum())
    if positives == 0 or positives == len(labels):
        raise ValueError("needs both true and false labels to fit a calibration")
    k = min(folds, positives, len(labels) - positives)
    held_out = None
    chosen: Method = method or "isotonic"
    if k >= 2:
        fold = _folds(labels, k, seed)
        predicted = {m: np.zeros_like(probs) for m in METHODS}
        for f in range(k):
            train, test = fold != f, fold == f
            for m in METHODS:
                predicted[m][test] = _fit(m, probs[train], labels[train]).apply(probs[test])
        ece_after: dict[str, float] = {
            m: expected_calibration_error(predicted[m], labels) for m in METHODS
        }
        if method is None:
            chosen = min(METHODS, key=lambda m: ece_after[m])
        decided = np.zeros_like(probs)
        for f in range(k):
            train, test = fold != f, fold == f
            fitted = _fit(chosen, probs[train], labels[train])
            threshold = best_threshold(fitted.apply(probs[train]), labels[train])
            decided[test] = fitted.apply(probs[test]) >= threshold
        held_out = HeldOut(
            folds=k,
            seed=seed,
            ece_before=expected_calibration_error(probs, labels),
            ece_after=ece_after,
            balanced_accuracy_before=balanced_accuracy((probs >= 0.5).astype(float), labels),
            balanced_accuracy_after=balanced_accuracy(decided, labels),
        )
    platt = fit_platt(probs, labels)
    temperature = fit_temperature(probs, labels)
    isotonic = fit_isotonic(probs, labels)
    maps: dict[Method, _Map] = {"platt": platt, "temperature": temperature, "isotonic": isotonic}
    threshold = best_threshold(maps[chosen].apply(probs), labels)
    return JudgeCalibration(
        method=chosen,
        threshold=threshold,
        n=len(labels),
        positives=positives,
        platt=(platt.a, platt.b),
        # a = 0 only when P(met) says nothing at all: a temperature so high it maps to 1/2
        temperature=1.0 / temperature.a if temperature.a != 0 else 1e9,
        isotonic_x=list(isotonic.x),
        isotonic_y=list(isotonic.y),
        held_out=held_out,
    )


def read_calibration(path: str | Path) -> CalibrationFile:
    """Read ``calibration.json``; a bad file raises ``InputError`` naming the field."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(
            f"cannot read the calibration file: {error.strerror}", file=name
        ) from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"not valid JSON: {error.msg}", file=name, line=error.lineno) from error
    try:
        return CalibrationFile.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        message = first["msg"].removeprefix("Value error, ")
        raise InputError(message, file=name, field=field) from error
