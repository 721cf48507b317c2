"""``POST /v1/tournament``: each group's completions rewarded by their win rate against each other.

A request carries whole GRPO groups, so the server can play each group's tournament
(``rubricate.pairwise.tournament``): matches compared in both orders (or one), round robin or
``opponents`` matches per completion on a seeded schedule. Every group plays through its own
``Comparer`` on the server's judge and cache, so its calls, cache hits and failures are its own
to report; a repeated group is answered from the cache.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rubricate.backends import Judge
from rubricate.engine import Jury
from rubricate.pairwise import (
    CompareOptions,
    Comparer,
    Orders,
    PairLine,
    TournamentResult,
    calls_per_group,
    tournament,
)
from rubricate.results import CallCounts
from rubricate.rubric import Rubric
from rubricate.server._metrics import Metrics
from rubricate.server._requests import (
    RubricBook,
    ServerError,
    request_messages,
    request_rubric,
    validate,
)
from rubricate.store import Store
from rubricate.types import Message

__all__ = [
    "GroupOutcome",
    "GroupPlan",
    "TournamentPlan",
    "TournamentRequest",
    "nothing_decided",
    "plan_tournaments",
    "play_tournaments",
    "register_tournament_metrics",
    "tournament_reply",
]

MAX_SEED = 2**63 - 1


class TournamentGroupIn(BaseModel):
    """One group: a prompt and its completions (and optionally the rubric to compare by)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: str | None = None
    prompt: str | list[dict[str, Any]]
    completions: list[str] = Field(min_length=2)
    rubric: list[Any] | dict[str, Any] | str | None = None
    rubric_id: str | None = None


class TournamentRequest(BaseModel):
    """The body of ``POST /v1/tournament``; the options apply to every group."""

    model_config = ConfigDict(extra="forbid", strict=True)

    groups: list[TournamentGroupIn] = Field(min_length=1)
    opponents: int | None = Field(default=None, ge=1)  # absent: the server's default
    orders: Orders = "both"
    seed: int = Field(default=0, ge=0, le=MAX_SEED)


@dataclass(frozen=True, slots=True)
class GroupPlan:
    """A validated group and what it costs with nothing cached (``calls_planned``)."""

    id: str
    messages: tuple[Message, ...]
    completions: tuple[str, ...]
    rubric: Rubric | None
    calls_planned: int


@dataclass(frozen=True, slots=True)
class TournamentPlan:
    """The groups of a request and the schedule they all follow."""

    groups: tuple[GroupPlan, ...]
    opponents: int | None  # None: round robin
    orders: Orders
    seed: int

    @property
    def calls_planned(self) -> int:
        return sum(g.calls_planned for g in self.groups)


def plan_tournaments(
    data: Any, book: RubricBook, *, max_group: int, default_opponents: int | None
) -> TournamentPlan:
    """The plan of a decoded ``/v1/tournament`` body, or a 422 naming the bad field."""
    body: TournamentRequest = validate(TournamentRequest, data)
    opponents = body.opponents if "opponents" in body.model_fields_set else default_opponents
    groups = []
    for index, group in enumerate(body.groups):
        base = f"groups[{index}]"
        size = len(group.completions)
        if size > max_group:
            raise ServerError.invalid_field(
                f"{base}.completions",
                f"{size} completions; this server takes at most {max_group} per group "
                "(--tournament-max-group)",
            )
        if body.opponents is not None and body.opponents > size - 1:
            raise ServerError.invalid_field(
                "opponents",
                f"{body.opponents} opponents, but {base} has only {size - 1} "
                "others per completion (omit it or give null for a round robin)",
            )
        rubric = request_rubric(group.rubric, group.rubric_id, base, book, group.id or base)
        criteria = len(rubric.criteria) if rubric is not None else 1
        groups.append(
            GroupPlan(
                id=group.id or f"g{index}",
                messages=request_messages(group.prompt, f"{base}.prompt"),
                completions=tuple(group.completions),
                rubric=rubric,
                calls_planned=calls_per_group(
                    size, opponents=opponents, orders=body.orders, criteria=criteria
                ),
            )
        )
    return TournamentPlan(tuple(groups), opponents, body.orders, body.seed)


@dataclass(frozen=True, slots=True)
class GroupOutcome:
    """A group's tournament and the calls it took (its own comparer's counts)."""

    plan: GroupPlan
    result: TournamentResult
    counts: CallCounts


async def play_tournaments(
    plan: TournamentPlan,
    judge: Judge | Jury,
    store: Store | None,
    concurrency: int,
    reasks: int,
    metrics: Metrics,
) -> list[GroupOutcome]:
    """Every group's tournament, groups at once; accepted replies go to ``store`` and the
    groups are counted in ``metrics`` (also when the request waiting for them timed out).

    With a jury, every member judges every match and the jury's rule decides each order.
    """
    options = CompareOptions(orders=plan.orders)

    async def play(group: GroupPlan) -> GroupOutcome:
        comparer = Comparer(
            judge, store=store, options=options, concurrency=concurrency, reasks=reasks
        )
        try:
            result = await tournament(
                comparer,
                group.messages,
                group.completions,
                opponents=plan.opponents,
                seed=plan.seed,
                rubric=group.rubric,
                group_id=group.id,
            )
        finally:
            comparer.flush()
        return GroupOutcome(group, result, comparer.call_counts)

    outcomes = list(await asyncio.gather(*(play(g) for g in plan.groups)))
    _count(metrics, outcomes)
    return outcomes


def _error_kinds(line: PairLine, trial: int) -> list[str]:
    """Why one order of a match has no decision: ``failed_call``, ``unparseable``, ..."""
    judgment = line.judgments[trial]
    if line.mode == "holistic":
        reasons = [judgment.error or "unparseable"]
    else:
        reasons = [
            t.error
            for c in line.criteria
            for t in c.trials
            if t.order == judgment.order and t.error is not None
        ] or [judgment.error or "unparseable"]
    return [reason.split(":", 1)[0] for reason in reasons]


def _missing(outcome: GroupOutcome) -> list[Counter[str]]:
    """Per completion, the kinds of error behind its missing decisions."""
    kinds: list[Counter[str]] = [Counter() for _ in outcome.plan.completions]
    for (i, j), line in zip(outcome.result.matches, outcome.result.lines, strict=True):
        for trial, decision in enumerate(line.decisions):
            if decision is None:
                found = Counter(_error_kinds(line, trial))
                kinds[i].update(found)
                kinds[j].update(found)
    return kinds


def _listed(kinds: Counter[str]) -> str:
    return ", ".join(f"{kind} x{count}" for kind, count in sorted(kinds.items()))


def _group_reply(outcome: GroupOutcome) -> dict[str, Any]:
    result, counts = outcome.result, outcome.counts
    completions = []
    for standing, kinds in zip(result.standings, _missing(outcome), strict=True):
        reason = None
        if standing.reward is None:
            reason = f"none of its {standing.errors} decisions came back ({_listed(kinds)})"
        completions.append(
            {
                "reward": standing.reward,
                "wins": standing.wins,
                "ties": standing.ties,
                "losses": standing.losses,
                "decisions": standing.decisions,
                "errors": standing.errors,
                "reason": reason,
            }
        )
    group_kinds: Counter[str] = Counter()
    for line in result.lines:
        for trial, decision in enumerate(line.decisions):
            if decision is None:
                group_kinds[_error_kinds(line, trial)[0]] += 1
    return {
        "id": outcome.plan.id,
        "rewards": list(result.rewards),
        "completions": completions,
        "matches": [list(m) for m in result.matches],
        "judge_calls_planned": outcome.plan.calls_planned,
        "judge_calls": counts.calls,
        "cache_hits": counts.cache_hits,
        "deduplicated": counts.deduplicated,
        "failed_calls": counts.failed_calls,
        "unparseable_replies": counts.unparseable_replies,
        "reasked": counts.reasked,
        "errors": sum(group_kinds.values()),
        "error_kinds": dict(sorted(group_kinds.items())),
    }


def tournament_reply(
    plan: TournamentPlan, outcomes: Sequence[GroupOutcome], judge: str
) -> dict[str, Any]:
    """The JSON reply: per group its rewards, standings, matches and calls."""
    return {
        "groups": [_group_reply(o) for o in outcomes],
        "opponents": plan.opponents,
        "orders": plan.orders,
        "seed": plan.seed,
        "judge": judge,
    }


def nothing_decided(outcomes: Sequence[GroupOutcome]) -> bool:
    """Whether no match of any group came back with a decision."""
    return all(d is None for o in outcomes for line in o.result.lines for d in line.decisions)


def register_tournament_metrics(metrics: Metrics) -> None:
    """The ``/metrics`` counters ``play_tournaments`` adds to."""
    for name, text in (
        ("tournament_groups_total", "Tournament groups played."),
        ("tournament_judge_calls_total", "Tournament judge calls answered."),
        ("tournament_cache_hits_total", "Tournament judgments served from the cache."),
        ("tournament_failed_calls_total", "Tournament judge calls that failed after retries."),
        ("tournament_errors_total", "Tournament match orders left without a decision."),
        ("tournament_unrewarded_total", "Completions none of whose decisions came back."),
    ):
        metrics.counter(name, text)


def _count(metrics: Metrics, outcomes: Sequence[GroupOutcome]) -> None:
    for outcome in outcomes:
        counts, result = outcome.counts, outcome.result
        metrics.inc("tournament_groups_total")
        metrics.inc("tournament_judge_calls_total", counts.calls)
        metrics.inc("tournament_cache_hits_total", counts.cache_hits)
        metrics.inc("tournament_failed_calls_total", counts.failed_calls)
        metrics.inc(
            "tournament_errors_total",
            sum(d is None for line in result.lines for d in line.decisions),
        )
        metrics.inc("tournament_unrewarded_total", sum(r is None for r in result.rewards))
