"""Calibration maps checked against scikit-learn and scipy on fixed inputs."""

import json

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from sklearn.calibration import _sigmoid_calibration
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import balanced_accuracy_score

from rubricate.calibrate import (
    CalibrationFile,
    best_threshold,
    expected_calibration_error,
    fit_isotonic,
    fit_judge,
    fit_platt,
    fit_temperature,
    logit,
    read_calibration,
)
from rubricate.errors import InputError


@pytest.fixture
def toy():
    rng = np.random.default_rng(7)
    p = rng.uniform(0.0, 1.0, 80)
    # An overconfident judge: the truth follows p squared.
    y = (rng.uniform(0.0, 1.0, 80) < p**2).astype(float)
    return p, y


def test_platt_matches_scikit_learn(toy) -> None:
    p, y = toy
    fitted = fit_platt(p, y)
    a, b = _sigmoid_calibration(logit(p), y)  # sklearn: 1 / (1 + exp(a f + b))
    assert fitted.a == pytest.approx(-a, rel=1e-5)
    assert fitted.b == pytest.approx(-b, rel=1e-5, abs=1e-6)


def test_a_separable_set_still_gives_a_finite_fit() -> None:
    fitted = fit_platt([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])
    assert np.isfinite(fitted.a) and np.isfinite(fitted.b)


def test_temperature_minimises_the_same_loss_as_scipy(toy) -> None:
    p, y = toy
    z = logit(p)
    positives = y.sum()
    t = np.where(y > 0, (positives + 1) / (positives + 2), 1 / (len(y) - positives + 2))

    def loss(a: float) -> float:
        s = a * z
        return float(np.sum(np.logaddexp(0, s) - t * s))

    reference = minimize_scalar(loss, bounds=(1e-3, 10), method="bounded", options={"xatol": 1e-9})
    assert fit_temperature(p, y).a == pytest.approx(reference.x, rel=1e-4)


def test_isotonic_matches_scikit_learn_including_ties_and_outside_points(toy) -> None:
    p, y = toy
    p = np.round(p, 1)  # many ties
    fitted = fit_isotonic(p, y)
    reference = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(p, y)
    grid = np.linspace(-0.2, 1.2, 57)
    assert np.allclose(fitted.apply(grid), reference.predict(grid))


def test_expected_calibration_error_by_hand() -> None:
    # Bin [0.1, 0.2): mean q 0.15, share positive 0 -> 0.15; bin [0.9, 1]: mean 0.95, 1/2.
    q = [0.1, 0.2 - 1e-9, 0.9, 1.0]
    y = [0, 0, 1, 0]
    assert expected_calibration_error(q, y) == pytest.approx(0.5 * 0.15 + 0.5 * 0.45)


def test_threshold_maximises_balanced_accuracy(toy) -> None:
    p, y = toy
    t = best_threshold(p, y)
    best = balanced_accuracy_score(y, p >= t)
    for other in np.linspace(0, 1, 201):
        assert balanced_accuracy_score(y, p >= other) <= best + 1e-12


def test_fit_judge_is_seeded_and_improves_an_overconfident_judge(toy) -> None:
    p, y = toy
    first = fit_judge(p, y, seed=3)
    assert first == fit_judge(p, y, seed=3)
    held = first.held_out
    assert held is not None and held.folds == 5
    assert held.ece_after[first.method] < held.ece_before
    assert first.method == min(held.ece_after, key=held.ece_after.get)
    forced = fit_judge(p, y, method="platt")
    assert forced.method == "platt"
    with pytest.raises(ValueError, match="both true and false"):
        fit_judge([0.2, 0.7], [1, 1])


def test_calibration_file_round_trip_and_located_errors(tmp_path, toy) -> None:
    p, y = toy
    file = CalibrationFile(judges={"judge-a": fit_judge(p, y)})
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(file.model_dump(mode="json")))
    again = read_calibration(path)
    assert again.digest == file.digest
    q, met = again.judges["judge-a"].apply(0.7)
    assert 0.0 <= q <= 1.0 and met == (q >= again.judges["judge-a"].threshold)
    data = json.loads(path.read_text())
    data["judges"]["judge-a"]["threshold"] = 1.5
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"field 'judges.judge-a.threshold'"):
        read_calibration(path)
    path.write_text("{")
    with pytest.raises(InputError, match=r"calibration.json:1: not valid JSON"):
        read_calibration(path)


def test_a_judge_running_against_the_labels_gets_a_reversing_map(toy) -> None:
    p, y = toy
    flipped = fit_judge(1.0 - p, y, method="temperature")
    assert flipped.temperature < 0
    low, high = (flipped.map().apply([x])[0] for x in (0.1, 0.9))
    assert low > high
