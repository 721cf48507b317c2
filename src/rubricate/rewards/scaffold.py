"""Rubric scaffolding (RuscaRL): reveal part of the rubric to the policy as guidance, less and less.

Within a group of ``G`` completions for one prompt, sample ``i`` (0-based) sees the fraction
``1 - i / (G - 1)`` of the rubric (the first sees all of it, the last none), so the group
mixes guided and unguided attempts. Over training the whole schedule is multiplied by a
sigmoid ``1 / (1 + exp(steepness * (step / total_steps - start)))`` that falls from 1 to 0
around ``start`` (a fraction of training). Which criteria are revealed is a seeded shuffle of
the rubric, the same for every sample of a prompt, so a sample that sees a larger fraction
sees a superset of what a sample with a smaller fraction sees.

The reward still grades against the full rubric; the guidance only changes what the policy
is shown while sampling.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rubricate.errors import ConfigError
from rubricate.rubric import Criterion, Rubric
from rubricate.types import Message

__all__ = [
    "Scaffold",
    "group_fraction",
    "reveal_fraction",
    "scaffold",
    "scaffold_messages",
    "step_fraction",
]

GroupDecay = Literal["linear", "none"]

_HEADER = "Guidance for this answer (from the grading rubric):"


@dataclass(frozen=True, slots=True)
class Scaffold:
    """What one sample is shown.

    Attributes:
        fraction: share of the rubric revealed, in [0, 1].
        criteria: the revealed criteria, in rubric order.
        text: the guidance prompt; empty when nothing is revealed.
    """

    fraction: float
    criteria: tuple[Criterion, ...]
    text: str


def group_fraction(index: int, group_size: int, decay: GroupDecay = "linear") -> float:
    """Intra-group share for sample ``index`` of ``group_size``: linear from 1 (first) to 0 (last)."""
    if group_size < 1:
        raise ConfigError(f"group_size must be at least 1, got {group_size}")
    if not 0 <= index < group_size:
        raise ConfigError(f"index must be in [0, {group_size - 1}], got {index}")
    if decay == "none" or group_size == 1:
        return 1.0
    if decay != "linear":
        raise ConfigError(f"decay must be 'linear' or 'none', got '{decay}'")
    return 1.0 - index / (group_size - 1)


def step_fraction(
    step: int, total_steps: int, *, start: float = 0.2, steepness: float = 125.0
) -> float:
    """Inter-step share: a sigmoid of training progress that is 0.5 at ``start`` (in [0, 1])."""
    if total_steps < 1:
        raise ConfigError(f"total_steps must be at least 1, got {total_steps}")
    if steepness < 0:
        raise ConfigError(f"steepness must be 0 or more, got {steepness}")
    exponent = steepness * (step / total_steps - start)
    if exponent > 700:  # exp would overflow; the share is 0 to double precision
        return 0.0
    return 1.0 / (1.0 + math.exp(exponent))


def reveal_fraction(
    index: int,
    group_size: int,
    *,
    step: int | None = None,
    total_steps: int | None = None,
    start: float = 0.2,
    steepness: float = 125.0,
    decay: GroupDecay = "linear",
) -> float:
    """The share of the rubric sample ``index`` sees: intra-group share x inter-step share."""
    fraction = group_fraction(index, group_size, decay)
    if step is not None:
        if total_steps is None:
            raise ConfigError("step needs total_steps")
        fraction *= step_fraction(step, total_steps, start=start, steepness=steepness)
    return fraction


def _order(rubric: Rubric, seed: int) -> list[Criterion]:
    digest = hashlib.sha256(f"{seed}\x00{rubric.fingerprint}".encode()).digest()
    shuffled = list(rubric.criteria)
    random.Random(int.from_bytes(digest[:8], "big")).shuffle(shuffled)
    return shuffled


def _render(criteria: Sequence[Criterion]) -> str:
    include = [c.text for c in criteria if c.points >= 0]
    avoid = [c.text for c in criteria if c.points < 0]
    lines = [_HEADER]
    if include:
        lines.append("Points to include:")
        lines.extend(f"- {text}" for text in include)
    if avoid:
        lines.append("Pitfalls to avoid:")
        lines.extend(f"- {text}" for text in avoid)
    return "\n".join(lines)


def scaffold(
    rubric: Rubric,
    *,
    index: int,
    group_size: int,
    step: int | None = None,
    total_steps: int | None = None,
    start: float = 0.2,
    steepness: float = 125.0,
    decay: GroupDecay = "linear",
    seed: int = 0,
) -> Scaffold:
    """The guidance for sample ``index`` of a group of ``group_size`` at ``step`` of ``total_steps``.

    Deterministic: equal arguments give equal guidance.
    """
    fraction = reveal_fraction(
        index,
        group_size,
        step=step,
        total_steps=total_steps,
        start=start,
        steepness=steepness,
        decay=decay,
    )
    count = math.floor(fraction * len(rubric.criteria) + 0.5)
    chosen = {c.id for c in _order(rubric, seed)[:count]}
    revealed = tuple(c for c in rubric.criteria if c.id in chosen)
    return Scaffold(fraction, revealed, _render(revealed) if revealed else "")


def scaffold_messages(messages: Sequence[Message], guidance: Scaffold) -> tuple[Message, ...]:
    """``messages`` with the guidance added to the system message (or as a new first one)."""
    if not guidance.text:
        return tuple(messages)
    if messages and messages[0].role == "system":
        first = Message("system", messages[0].content.rstrip() + "\n\n" + guidance.text)
        return (first, *messages[1:])
    return (Message("system", guidance.text), *messages)
