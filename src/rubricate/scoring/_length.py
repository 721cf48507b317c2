"""HealthBench's length-adjusted score: a penalty per 500 characters beyond 2,000.

adjusted = score - penalty * (characters - 2000) / 500, per sample, with ``characters`` the
length of the graded response; the run figure is the clipped mean of the adjusted scores
(``summarize``). Issue 11 names the formula; no penalty is built in, because the published
per-subset values are not in the simple-evals snapshot this was written against: pass the
penalty of the subset you grade.
"""

from __future__ import annotations

import math

__all__ = ["LENGTH_FREE_CHARACTERS", "LENGTH_PENALTY_UNIT", "length_adjusted_score"]

LENGTH_FREE_CHARACTERS = 2000
LENGTH_PENALTY_UNIT = 500


def length_adjusted_score(score: float, characters: int, penalty: float) -> float:
    """``score - penalty * (characters - 2000) / 500``.

    Raises ``ValueError`` for a negative or non-finite penalty or a negative length.
    """
    if not math.isfinite(penalty) or penalty < 0:
        raise ValueError(f"length penalty must be a finite number >= 0, got {penalty!r}")
    if characters < 0:
        raise ValueError(f"response length cannot be negative, got {characters}")
    return score - penalty * (characters - LENGTH_FREE_CHARACTERS) / LENGTH_PENALTY_UNIT
