"""Reward shaping: a thin, pure layer over the scoring core's per-sample scores.

Order of operations, per sample then per group:

1. the scoring core gives the sample score (gates already set failed samples to their floor);
2. ``clip`` bounds it to [0, 1];
3. ``normalize`` rescales it within its group (the completions of one prompt):
   ``zscore`` -> (x - mean) / std (0 when the group has no spread), ``rank`` -> average rank
   scaled to [0, 1] (ties share their rank; a lone sample gets 0.5);
4. where a framework needs a float, an ungradable sample (score ``None``: every criterion
   errored) gets ``fallback`` and is reported as such, never silently.

``None`` never enters a group's statistics.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

from rubricate.errors import ConfigError

__all__ = [
    "NORMALIZATIONS",
    "Normalize",
    "Shaping",
    "normalize_groups",
    "shape_scores",
    "with_fallback",
]

Normalize = Literal["none", "zscore", "rank"]
NORMALIZATIONS: tuple[str, ...] = ("none", "zscore", "rank")


@dataclass(frozen=True, slots=True)
class Shaping:
    """How sample scores become rewards.

    Attributes:
        clip: bound each score to [0, 1] before normalizing (HealthBench scores can be negative).
        normalize: ``none``, ``zscore`` or ``rank`` within a prompt's group of completions.
        fallback: reward of an ungradable sample where a float is mandatory (verl, OpenRLHF).
        gates: let failed ``required`` criteria floor the score (off: required is ignored).
        gate_floor: the floor a failed gate sets; ``None`` keeps each rubric's own ``gate_floor``.
        soft: score binary criteria with the judge's P(met) (asks the judge for probabilities).
        axes: axis names reported as per-axis extras; ``None`` reports what the batch holds.
        dropout: rubric dropout, the share of each sample's criteria left out of its score
            (a seeded subset per sample and response, see ``drop_criteria``); 0 is off.
        seed: seed of the dropout subsets.
    """

    clip: bool = False
    normalize: Normalize = "none"
    fallback: float = 0.0
    gates: bool = True
    gate_floor: float | None = None
    soft: bool = False
    axes: tuple[str, ...] | None = None
    dropout: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.normalize not in NORMALIZATIONS:
            raise ConfigError(
                f"normalize must be one of {', '.join(NORMALIZATIONS)}, got '{self.normalize}'"
            )
        if not math.isfinite(self.fallback):
            raise ConfigError(f"fallback must be a finite number, got {self.fallback}")


def _zscore(values: list[float]) -> list[float]:
    mean = sum(values) / len(values)
    variance = sum((v - mean) ** 2 for v in values) / len(values)
    std = math.sqrt(variance)
    if std < 1e-12:
        return [0.0] * len(values)
    return [(v - mean) / std for v in values]


def _rank(values: list[float]) -> list[float]:
    if len(values) == 1:
        return [0.5]
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        stop = start
        while stop + 1 < len(order) and values[order[stop + 1]] == values[order[start]]:
            stop += 1
        shared = (start + stop) / 2  # ties share the average of their positions
        for position in range(start, stop + 1):
            ranks[order[position]] = shared / (len(values) - 1)
        start = stop + 1
    return ranks


def normalize_groups(
    values: Sequence[float | None],
    groups: Sequence[Hashable] | None,
    method: Normalize,
) -> list[float | None]:
    """Normalize ``values`` within each group (all one group when ``groups`` is ``None``)."""
    result: list[float | None] = list(values)
    if method == "none":
        return result
    if groups is not None and len(groups) != len(values):
        raise ConfigError(f"got {len(groups)} group keys for {len(values)} values")
    members: dict[Hashable, list[int]] = {}
    for index, value in enumerate(values):
        if value is None:
            continue
        key = groups[index] if groups is not None else None
        members.setdefault(key, []).append(index)
    transform = _zscore if method == "zscore" else _rank
    for indices in members.values():
        shaped = transform([float(values[i]) for i in indices])  # type: ignore[arg-type]
        for index, value in zip(indices, shaped, strict=True):
            result[index] = value
    return result


def shape_scores(
    scores: Sequence[float | None],
    shaping: Shaping,
    groups: Sequence[Hashable] | None = None,
) -> list[float | None]:
    """Rewards from sample scores: clip, then normalize within groups; ``None`` stays ``None``."""
    clipped = [
        None if s is None else (min(1.0, max(0.0, s)) if shaping.clip else float(s)) for s in scores
    ]
    return normalize_groups(clipped, groups, shaping.normalize)


def with_fallback(rewards: Sequence[float | None], fallback: float) -> list[float]:
    """``rewards`` with ``None`` replaced by ``fallback`` (callers report which ones)."""
    return [fallback if r is None else r for r in rewards]
