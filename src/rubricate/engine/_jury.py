"""A jury for the grader: several judges, their weights and the rule that combines them.

Each member is graded by its own ``Grader`` (its own ``CallEngine``: its fingerprint in every
cache key, its own dedup, slots and token counts); ``rubricate.jury`` decides per criterion.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from rubricate.backends import Judge, close_judge
from rubricate.errors import ConfigError
from rubricate.jury import RULES, JuryRule

__all__ = ["Jury", "JuryMember"]


@dataclass(frozen=True, slots=True)
class JuryMember:
    """One judge of a jury.

    Attributes:
        judge: the judge (built with its own retries, limits and breaker).
        weight: its vote's weight under the ``weighted`` rule (> 0).
        name: how reports call it (default: its fingerprint).
    """

    judge: Judge
    weight: float = 1.0
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or self.judge.fingerprint


@dataclass(frozen=True, slots=True)
class Jury:
    """Two or more judges deciding every criterion together by ``rule`` (see ``rubricate.jury``)."""

    members: tuple[JuryMember, ...]
    rule: JuryRule = "majority"

    def __post_init__(self) -> None:
        if len(self.members) < 2:
            raise ConfigError("a jury needs at least two judges")
        if self.rule not in RULES:
            raise ConfigError(f"unknown jury rule '{self.rule}' ({', '.join(RULES)})")
        seen: set[str] = set()
        for member in self.members:
            if not member.weight > 0:
                raise ConfigError(f"jury judge {member.label}: weight must be > 0")
            fingerprint = member.judge.fingerprint
            if fingerprint in seen:
                # Same fingerprint, same cache key: the second vote would copy the first.
                raise ConfigError(f"two jury judges have the same fingerprint {fingerprint}")
            seen.add(fingerprint)

    @property
    def fingerprint(self) -> str:
        """The jury as results name it: rule, then each member's fingerprint and weight."""
        parts = ",".join(f"{m.judge.fingerprint}*{m.weight:g}" for m in self.members)
        return f"jury:{self.rule}[{parts}]"

    async def aclose(self) -> None:
        """Close every member's judge."""
        await asyncio.gather(*(close_judge(m.judge) for m in self.members))
