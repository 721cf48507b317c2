"""Agreement statistics against published worked examples and hand computations."""

import pytest

from rubricate.jury import fleiss_kappa, krippendorff_alpha, share_agreeing


def test_fleiss_kappa_matches_the_worked_example() -> None:
    # Fleiss (1971) as worked on Wikipedia: 10 subjects, 14 raters, 5 categories -> 0.210.
    rows = [
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ]  # fmt: skip
    items = [[c for c, n in enumerate(row) for _ in range(n)] for row in rows]
    assert fleiss_kappa(items) == pytest.approx(0.20993, abs=1e-5)


def test_fleiss_kappa_by_hand_and_its_undefined_cases() -> None:
    # P_i = 1/3, 1, 1/3, 1 -> P = 2/3; p_met = p_not = 1/2 -> P_e = 1/2; kappa = 1/3.
    items = [["met", "met", "no"], ["met"] * 3, ["no", "no", "met"], ["no"] * 3]
    assert fleiss_kappa(items) == pytest.approx(1 / 3)
    # An item a judge did not decide is left out of kappa.
    assert fleiss_kappa([*items, ["met", None, "no"]]) == pytest.approx(1 / 3)
    assert fleiss_kappa([["met", "met"], ["met", "met"]]) is None  # one category: P_e = 1
    assert fleiss_kappa([[None, "met"]]) is None


def test_krippendorff_alpha_matches_the_canonical_example() -> None:
    # Krippendorff (2011), 4 coders x 12 units with missing values: nominal alpha 0.743.
    n = None
    a = [1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n]
    b = [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3]
    c = [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n]
    d = [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n]
    assert krippendorff_alpha(list(zip(a, b, c, d, strict=True))) == pytest.approx(0.7434, abs=1e-4)


def test_krippendorff_alpha_by_hand() -> None:
    # o_mm = o_nn = 4, o_mn = o_nm = 2, n = 12: 1 - 11 * 4 / (144 - 72) = 7/18.
    items = [["m", "m", "n"], ["m"] * 3, ["n", "n", "m"], ["n"] * 3]
    assert krippendorff_alpha(items) == pytest.approx(7 / 18)
    assert krippendorff_alpha([["m", None], [None, "n"]]) is None  # nothing pairable
    assert krippendorff_alpha([["m", "m"], ["m", "m"]]) is None


def test_share_agreeing_counts_only_decided_pairs() -> None:
    assert share_agreeing(["met", "no", None, "met"], ["met", "met", "met", None]) == 0.5
    assert share_agreeing([None], ["met"]) is None
