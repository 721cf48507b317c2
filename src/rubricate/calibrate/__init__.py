"""Calibrating a judge's P(met): Platt, temperature and isotonic maps, thresholds, ECE (pure)."""

from rubricate.calibrate._file import (
    METHODS,
    CalibrationFile,
    HeldOut,
    JudgeCalibration,
    Method,
    fit_judge,
    read_calibration,
)
from rubricate.calibrate._maps import (
    IsotonicMap,
    ScalingMap,
    balanced_accuracy,
    best_threshold,
    expected_calibration_error,
    fit_isotonic,
    fit_platt,
    fit_temperature,
    logit,
)

__all__ = [
    "METHODS",
    "CalibrationFile",
    "HeldOut",
    "IsotonicMap",
    "JudgeCalibration",
    "Method",
    "ScalingMap",
    "balanced_accuracy",
    "best_threshold",
    "expected_calibration_error",
    "fit_isotonic",
    "fit_judge",
    "fit_platt",
    "fit_temperature",
    "logit",
    "read_calibration",
]
