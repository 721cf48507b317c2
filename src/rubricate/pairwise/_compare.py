"""The compare stage: pairs -> judge (or jury) calls in one or both orders -> pairs.jsonl lines.

Every judge call goes through the shared ``CallEngine``: cached (an accepted reply is kept
in the store and read again on a hit), deduplicated while in flight, limited to the
engine's slots, re-asked when unparseable (then an ``error`` decision, never a guess), and
counted with its tokens.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Any

from rubricate.backends import Judge
from rubricate.engine import CallEngine, Jury, Reask, map_in_order
from rubricate.errors import BackendError, ConfigError, InputError
from rubricate.judge import PromptTemplate
from rubricate.pairwise._figures import FigureTally
from rubricate.pairwise._jury import check_pairwise_rule, jury_trial
from rubricate.pairwise._parse import parse_decision, parse_requirement
from rubricate.pairwise._prompt import (
    SharedText,
    build_criterion_request,
    build_holistic_request,
    load_pairwise_template,
    render_pair,
    retry_request,
)
from rubricate.pairwise._records import (
    CompareCounts,
    CriterionLine,
    CriterionTrialLine,
    JuryMemberLine,
    PairLine,
    RubricGenerationFigures,
    TrialLine,
)
from rubricate.pairwise._types import CompareMode, CriterionTrial, Order, Orders, Pair, Trial
from rubricate.pairwise._votes import (
    consistent,
    criteria_decision,
    judgebench_correct,
    net_vote,
    preference,
    to_original,
    winner_to_original,
)
from rubricate.results import CallCounts, Tokens
from rubricate.rubric import Criterion
from rubricate.store import Store, judgment_key
from rubricate.types import JudgeReply, JudgeRequest

__all__ = ["Answer", "CompareOptions", "Comparer", "PairReplyCache", "pair_text_hash"]


@dataclass(frozen=True, slots=True)
class Answer:
    """A judge's reply to one pairwise request: ``usable`` when it held a decision."""

    raw: str
    usable: bool
    error: str | None = None
    cached: bool = False


class PairReplyCache:
    """Accepted pairwise replies in the store's text table; a hit is parsed again.

    Keeping the reply rather than the decision lets ``pairs.jsonl`` show the judge's words
    on a resumed run. Unusable replies are never kept: the next run asks again.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def get_many(self, keys: Sequence[str]) -> dict[str, Answer]:
        found = {}
        for key in keys:
            text = self.store.get_response(key)
            if text is not None:
                found[key] = Answer(text, usable=True, cached=True)
        return found

    def put_many(self, items: list[tuple[str, Answer]]) -> None:
        for key, answer in items:
            self.store.put_response(key, answer.raw)

    def keeps(self, value: Answer) -> bool:
        return value.usable


@dataclass(frozen=True, slots=True)
class CompareOptions:
    """How pairs are compared.

    Attributes:
        orders: ``both`` asks each pair in the given and the swapped order; ``one`` only as given.
        mode: ``holistic`` or ``criteria``; ``None`` compares by criteria when a pair has a
            rubric, holistically otherwise.
        explain: holistic judges reason in a few sentences before the verdict.
        max_tokens: completion budget per call.
        window: pairs in flight at once (results still come out in input order).
    """

    orders: Orders = "both"
    mode: CompareMode | None = None
    explain: bool = False
    max_tokens: int = 512
    window: int = 32

    def __post_init__(self) -> None:
        if self.orders not in ("both", "one"):
            raise ConfigError(f"orders must be 'both' or 'one', not {self.orders!r}")
        if self.mode not in (None, "holistic", "criteria"):
            raise ConfigError(f"mode must be 'holistic' or 'criteria', not {self.mode!r}")
        if self.max_tokens < 1 or self.window < 1:
            raise ConfigError("max_tokens and window must be at least 1")


def pair_text_hash(pair: Pair, first: str, second: str) -> str:
    """Hash of what the judge reads for one order: the conversation and the two seats."""
    digest = hashlib.sha256()
    parts = [p for m in pair.messages for p in (m.role, m.content)] + ["|", first, second]
    for part in parts:
        encoded = part.encode("utf-8")
        digest.update(b"%d:" % len(encoded))
        digest.update(encoded)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class _Seat:
    """One judge of a comparison with its own call engine (and, in a jury, its vote)."""

    judge: Judge
    calls: CallEngine[Answer]
    weight: float = 1.0
    name: str = ""


@dataclass(frozen=True, slots=True)
class _Outcome:
    """One judge's trials of a pair (every order) and, criterion-wise, its criteria."""

    trials: list[Trial]
    criteria: list[CriterionLine]


class Comparer:
    """Compares pairs with one judge, or a jury, through ``CallEngine``s.

    Args:
        judge: the judge backend, or a ``Jury`` whose members each judge every trial (each
            through its own engine: its fingerprint in every cache key, its own slots and
            counts) and whose rule decides it (see ``rubricate.pairwise`` juries).
        store: where accepted replies persist (``None``: nothing kept between runs).
        options: see ``CompareOptions``.
        concurrency: judge calls on the wire at once (per jury member).
        reasks: how many times an unparseable reply is asked again before an ``error``.

    Raises:
        ConfigError: a jury rule a comparison cannot use (``any``).
    """

    def __init__(
        self,
        judge: Judge | Jury,
        *,
        store: Store | None = None,
        options: CompareOptions | None = None,
        concurrency: int = 16,
        reasks: int = 2,
    ) -> None:
        self.judge = judge
        self.store = store
        self.options = options or CompareOptions()

        def seat(member: Judge, weight: float = 1.0, name: str = "") -> _Seat:
            calls: CallEngine[Answer] = CallEngine(
                member,
                cache=PairReplyCache(store) if store is not None else None,
                concurrency=concurrency,
                reasks=reasks,
                counts=CallCounts(),
            )
            return _Seat(member, calls, weight, name)

        self.jury: Jury | None = None
        self.seats: tuple[_Seat, ...]
        if isinstance(judge, Jury):
            check_pairwise_rule(judge.rule)
            self.jury = judge
            self.seats = tuple(seat(m.judge, m.weight, m.label) for m in judge.members)
        else:
            self.seats = (seat(judge),)

    @property
    def fingerprint(self) -> str:
        """The judge's fingerprint, or the jury's (rule, members and weights)."""
        return self.judge.fingerprint

    @property
    def calls(self) -> CallEngine[Answer]:
        """The judge's call engine (a jury's first member's; ``call_counts`` sums them all)."""
        return self.seats[0].calls

    @property
    def call_counts(self) -> CallCounts:
        """The calls so far, summed over a jury's members (a copy)."""
        total = CallCounts()
        for seat in self.seats:
            total = total + seat.calls.counts
        return total

    @property
    def orders(self) -> tuple[Order, ...]:
        return ("AB", "BA") if self.options.orders == "both" else ("AB",)

    def mode_of(self, pair: Pair) -> CompareMode:
        if self.options.mode is not None:
            if self.options.mode == "criteria" and pair.rubric is None:
                raise InputError(f"pair '{pair.id}' has no rubric to compare by", field="rubric")
            return self.options.mode
        return "criteria" if pair.rubric is not None else "holistic"

    def template(self, mode: CompareMode) -> PromptTemplate:
        return load_pairwise_template(mode, self.options.explain and mode == "holistic")

    def flush(self) -> None:
        """Write accepted replies still waiting for the group commit."""
        for seat in self.seats:
            seat.calls.flush()

    # --- one request ---------------------------------------------------------------

    async def _answer(
        self,
        seat: _Seat,
        key: str,
        request: JudgeRequest,
        usable: Callable[[str], bool],
    ) -> Answer:
        async def make() -> Answer:
            current = [request]
            last = [""]
            accepted = [False]

            def read(reply: JudgeReply) -> Reask | None:
                last[0] = reply.text
                if usable(reply.text):
                    accepted[0] = True
                    return None
                current[0] = retry_request(current[0], reply.text)
                return Reask(current[0])

            try:
                await seat.calls.ask(request, read)
            except BackendError as error:
                return Answer(last[0], usable=False, error=f"failed_call: {error}")
            if not accepted[0]:
                return Answer(last[0], usable=False, error="unparseable")
            return Answer(last[0], usable=True)

        return await seat.calls.once(key, make)

    def _key(
        self,
        seat: _Seat,
        template: PromptTemplate,
        request: JudgeRequest,
        kind: str,
        text_hash: str,
    ) -> str:
        # The request's own sampling settings (none by default) complete the judge's fingerprint.
        sampling = request.sampling()
        judge = seat.judge.fingerprint
        if sampling:
            judge += "|" + json.dumps(sampling, sort_keys=True)
        return judgment_key(judge, template.version, kind, text_hash, "pairwise")

    # --- holistic ------------------------------------------------------------------

    async def _holistic_trial(self, seat: _Seat, pair: Pair, order: Order) -> Trial:
        template = self.template("holistic")
        shared = render_pair(pair, *pair.shown(order))
        request = build_holistic_request(template, shared, max_tokens=self.options.max_tokens)
        key = self._key(seat, template, request, "holistic", pair_text_hash(pair, *shared.shown))
        answer = await self._answer(
            seat, key, request, lambda text: parse_decision(text, shared.shown) is not None
        )
        parsed = parse_decision(answer.raw, shared.shown) if answer.usable else None
        if parsed is None:
            return Trial(order, None, raw=answer.raw, error=answer.error or "unparseable")
        return Trial(order, parsed.decision, parsed.strong, answer.raw, cached=answer.cached)

    # --- criterion-wise ------------------------------------------------------------

    async def _criterion_trial(
        self, seat: _Seat, pair: Pair, shared: SharedText, order: Order, criterion: Criterion
    ) -> CriterionTrial:
        template = self.template("criteria")
        request = build_criterion_request(
            template, shared, criterion, max_tokens=self.options.max_tokens
        )
        kind = f"criterion:{criterion.fingerprint}:{'required' if criterion.required else 'any'}"
        key = self._key(seat, template, request, kind, pair_text_hash(pair, *shared.shown))
        if criterion.required:
            answer = await self._answer(
                seat, key, request, lambda text: parse_requirement(text, shared.shown) is not None
            )
            met = parse_requirement(answer.raw, shared.shown) if answer.usable else None
            if met is not None:
                return CriterionTrial(
                    criterion, order, met.winner, met.first_met, met.second_met,
                    answer.raw, cached=answer.cached,
                )  # fmt: skip
        else:
            answer = await self._answer(
                seat, key, request, lambda text: parse_decision(text, shared.shown) is not None
            )
            parsed = parse_decision(answer.raw, shared.shown) if answer.usable else None
            if parsed is not None:
                return CriterionTrial(
                    criterion, order, parsed.winner, raw=answer.raw, cached=answer.cached
                )
        return CriterionTrial(
            criterion, order, None, raw=answer.raw, error=answer.error or "unparseable"
        )

    async def _criteria_order(self, seat: _Seat, pair: Pair, order: Order) -> list[CriterionTrial]:
        criteria = pair.rubric.criteria if pair.rubric is not None else ()
        shared = render_pair(pair, *pair.shown(order))
        return list(
            await asyncio.gather(
                *(self._criterion_trial(seat, pair, shared, order, c) for c in criteria)
            )
        )

    # --- a pair --------------------------------------------------------------------

    async def _outcome(self, seat: _Seat, pair: Pair, mode: CompareMode) -> _Outcome:
        """One judge's trials of ``pair`` in every order."""
        if mode == "holistic":
            trials = await asyncio.gather(
                *(self._holistic_trial(seat, pair, o) for o in self.orders)
            )
            return _Outcome(list(trials), [])
        per_order = list(
            await asyncio.gather(*(self._criteria_order(seat, pair, o) for o in self.orders))
        )
        trials = [
            _criteria_trial(order, answers)
            for order, answers in zip(self.orders, per_order, strict=True)
        ]
        return _Outcome(trials, _criterion_lines(per_order))

    async def compare_pair(self, pair: Pair) -> PairLine:
        """Compare one pair in every order and return its ``pairs.jsonl`` line.

        With a jury, every member compares it and the jury's rule decides each order; the
        members' own comparisons are kept in the line's ``jury``.
        """
        mode = self.mode_of(pair)
        outcomes = list(await asyncio.gather(*(self._outcome(s, pair, mode) for s in self.seats)))
        members: list[JuryMemberLine] | None = None
        if self.jury is None:
            outcome = outcomes[0]
        else:
            weights = [seat.weight for seat in self.seats]
            per_order = zip(*(o.trials for o in outcomes), strict=True)
            outcome = _Outcome([jury_trial(self.jury.rule, t, weights) for t in per_order], [])
            members = [
                JuryMemberLine(
                    judge=seat.judge.fingerprint,
                    name=seat.name,
                    weight=seat.weight,
                    **_decided(pair, own.trials, replies=mode == "holistic"),
                    criteria=own.criteria,
                )
                for seat, own in zip(self.seats, outcomes, strict=True)
            ]
        return PairLine(
            pair_id=pair.id,
            source=pair.source or "",
            label=pair.label,
            mode=mode,
            **_decided(pair, outcome.trials, replies=members is None and mode == "holistic"),
            criteria=outcome.criteria,
            judge=self.fingerprint,
            template=self.template(mode).version,
            jury=members,
            rubric_source="data" if mode == "criteria" else None,
        )

    async def iter_compare(self, pairs: Iterable[Pair]) -> AsyncIterator[PairLine]:
        """Lines for ``pairs`` in input order, ``options.window`` pairs in flight."""
        # Closing the stream cancels the pairs still in flight.
        started = map_in_order(pairs, self.compare_pair, self.options.window)
        async with aclosing(started) as lines:
            async for line in lines:
                yield line

    def counts(self, tally: FigureTally, skipped: int = 0) -> CompareCounts:
        return CompareCounts.from_calls(
            self.call_counts,
            error_pairs=tally.error_pairs,
            criterion_errors=tally.criterion_errors,
            skipped_lines=skipped,
        )

    def rubric_generation(self) -> RubricGenerationFigures | None:
        """What generating rubrics cost (a comparer that generates none: ``None``)."""
        return None

    def tokens(self) -> Tokens:
        return replace(self.call_counts.tokens)  # a copy: the engines' keep counting


def _criteria_trial(order: Order, answers: list[CriterionTrial]) -> Trial:
    decision = criteria_decision(answers)
    error = None if decision is not None else "every criterion errored"
    return Trial(order, decision, error=error, cached=all(a.cached for a in answers))


def _decided(pair: Pair, trials: list[Trial], *, replies: bool) -> dict[str, Any]:
    """The fields a pair line and a jury member's line share: trials and what they decide.

    ``replies``: the trials hold a judge's own reply (holistic), kept as ``raw``.
    """
    decisions = [to_original(t.decision, t.order) for t in trials]
    return {
        "judgments": [
            TrialLine(
                order=t.order,
                decision=t.decision,
                strong=t.strong,
                raw=t.raw if replies else None,
                error=t.error,
                cached=t.cached,
            )
            for t in trials
        ],
        "decisions": decisions,
        "net_vote": net_vote(decisions),
        "preference": preference(decisions),
        "correct": None if pair.label is None else judgebench_correct(decisions, pair.label),
        "consistent": consistent(decisions),
    }


def _criterion_lines(per_order: list[list[CriterionTrial]]) -> list[CriterionLine]:
    lines = []
    for answers in zip(*per_order, strict=True):
        criterion = answers[0].criterion
        winners = [winner_to_original(a.winner, a.order) for a in answers]
        votes = [None if w is None else {"A": "A>B", "B": "B>A", "tie": "A=B"}[w] for w in winners]
        lines.append(
            CriterionLine(
                criterion_id=criterion.id,
                criterion=criterion.text,
                points=criterion.points,
                required=criterion.required,
                trials=[
                    CriterionTrialLine(
                        order=a.order,
                        winner=a.winner,
                        first_met=a.first_met,
                        second_met=a.second_met,
                        raw=a.raw,
                        error=a.error,
                        cached=a.cached,
                    )
                    for a in answers
                ],
                winners=winners,
                preference=preference(votes),  # type: ignore[arg-type]
            )
        )
    return lines
