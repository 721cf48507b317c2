"""Tournament rewards: a group's completions rewarded by their win rate against each other.

Wherever a whole GRPO group is visible (a single-process TRL run, a server endpoint that
receives a group), its completions play matches: pairs compared in both orders (or one)
through a ``Comparer``, so matches are cached, deduplicated and re-asked like any comparison.

The schedule is a full round robin, or, with ``opponents=K``, a seeded circulant one: the
completions are shuffled onto a ring and each meets the ``ceil(K/2)`` next ones on it, so
each plays ``2 * ceil(K/2)`` matches (all others when that reaches ``n - 1``) and the group
costs ``n * ceil(K/2)`` matches instead of ``n (n - 1) / 2``; ``calls_per_group`` states it.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from rubricate.errors import ConfigError
from rubricate.pairwise._compare import Comparer
from rubricate.pairwise._records import PairLine
from rubricate.pairwise._types import Orders, Pair
from rubricate.rubric import Rubric
from rubricate.types import Message

__all__ = [
    "Standing",
    "TournamentResult",
    "calls_per_group",
    "plan_matches",
    "tournament",
]


def plan_matches(
    group_size: int, *, opponents: int | None = None, seed: int = 0
) -> tuple[tuple[int, int], ...]:
    """The matches ``(i, j)`` (``i < j``, completion indices) a group plays, sorted.

    ``opponents=None`` (or ``>= group_size - 1``): everyone meets everyone. Otherwise a
    circulant schedule on a ring shuffled with ``seed``: each completion meets the next
    ``ceil(opponents / 2)`` on the ring, so each plays ``2 * ceil(opponents / 2)`` matches.
    """
    if group_size < 0:
        raise ConfigError("group_size must not be negative")
    if opponents is not None and opponents < 1:
        raise ConfigError("opponents must be at least 1 (or None for a round robin)")
    everyone = range(group_size)
    if opponents is None or 2 * math.ceil(opponents / 2) >= group_size - 1:
        return tuple((i, j) for i in everyone for j in everyone if i < j)
    ring = list(everyone)
    random.Random(seed).shuffle(ring)
    matches = set()
    for k in everyone:
        for step in range(1, math.ceil(opponents / 2) + 1):
            a, b = ring[k], ring[(k + step) % group_size]
            matches.add((min(a, b), max(a, b)))
    return tuple(sorted(matches))


def calls_per_group(
    group_size: int, *, opponents: int | None = None, orders: Orders = "both", criteria: int = 1
) -> int:
    """Judge calls a group costs with nothing cached: matches x orders x criteria (1 holistic)."""
    matches = len(plan_matches(group_size, opponents=opponents))
    return matches * (2 if orders == "both" else 1) * max(criteria, 1)


@dataclass(frozen=True, slots=True)
class Standing:
    """One completion's record in its group's tournament, counted in decisions (one per order
    of every match it played).

    Attributes:
        wins / ties / losses: decisions that came back.
        errors: decisions that did not (every call failed or every reply was unparseable).
    """

    wins: int = 0
    ties: int = 0
    losses: int = 0
    errors: int = 0

    @property
    def decisions(self) -> int:
        return self.wins + self.ties + self.losses

    @property
    def reward(self) -> float | None:
        """``(wins + ties / 2) / decisions`` in [0, 1]; ``None`` when no decision came back."""
        decided = self.decisions
        return (self.wins + self.ties / 2) / decided if decided else None


@dataclass(frozen=True, slots=True)
class TournamentResult:
    """A group's rewards and how they were reached.

    Attributes:
        rewards: per completion, ``(wins + ties / 2) / decisions`` in [0, 1] over every order
            of every match it played (``(1 + net win rate) / 2``); ``None`` when none of its
            decisions came back (every call an error).
        matches: the ``(i, j)`` pairs played.
        lines: each match's comparison, ``pairs.jsonl``-shaped (response_a = completion i).
        standings: per completion, the wins, ties, losses and errors its reward comes from.
    """

    rewards: tuple[float | None, ...]
    matches: tuple[tuple[int, int], ...]
    lines: tuple[PairLine, ...]
    standings: tuple[Standing, ...]

    @property
    def judge_decisions(self) -> int:
        return sum(len(line.decisions) for line in self.lines)


def _group_seed(seed: int, messages: Sequence[Message]) -> int:
    digest = hashlib.sha256(str(seed).encode("utf-8"))
    for message in messages:
        digest.update(b"\x1f" + message.role.encode("utf-8") + b"\x1e")
        digest.update(message.content.encode("utf-8"))
    return int.from_bytes(digest.digest()[:8], "big")


async def tournament(
    comparer: Comparer,
    messages: Sequence[Message],
    completions: Sequence[str],
    *,
    opponents: int | None = None,
    seed: int = 0,
    rubric: Rubric | None = None,
    group_id: str = "group",
) -> TournamentResult:
    """Play a group's matches through ``comparer`` and reward each completion by its win rate.

    The schedule's shuffle is seeded by ``seed`` and the prompt, so a group is scheduled the
    same way every time and different prompts differently.
    """
    matches = plan_matches(len(completions), opponents=opponents, seed=_group_seed(seed, messages))
    conversation = tuple(messages)
    pairs = [
        Pair(f"{group_id}:{i}-{j}", conversation, completions[i], completions[j], rubric=rubric)
        for i, j in matches
    ]
    lines = await asyncio.gather(*(comparer.compare_pair(pair) for pair in pairs))
    tally = [[0, 0, 0, 0] for _ in completions]  # wins, ties, losses, errors
    for (i, j), line in zip(matches, lines, strict=True):
        for decision in line.decisions:
            if decision is None:
                tally[i][3] += 1
                tally[j][3] += 1
            elif decision == "A=B":
                tally[i][1] += 1
                tally[j][1] += 1
            else:
                winner, loser = (i, j) if decision == "A>B" else (j, i)
                tally[winner][0] += 1
                tally[loser][2] += 1
    standings = tuple(Standing(*counts) for counts in tally)
    rewards = tuple(s.reward for s in standings)
    return TournamentResult(rewards, matches, tuple(lines), standings)
