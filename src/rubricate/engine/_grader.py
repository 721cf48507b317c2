"""Orchestration: samples -> requests -> judge -> verdicts -> scores.

The engine is asyncio. ``Grader`` owns one judge, one store and the run's counters;
many samples are graded concurrently through it, and identical judgments that are
pending at the same time are asked for once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace

from rubricate.backends import Judge
from rubricate.engine._ordered import map_in_order
from rubricate.errors import BackendError, ConfigError, InputError, VerdictError
from rubricate.judge import (
    Mode,
    build_request,
    load_template,
    parse_group_reply,
    parse_single_reply,
    render_shared,
)
from rubricate.results import Counts, SampleResult, Tokens, VerdictRecord
from rubricate.rubric import Criterion
from rubricate.scoring import Method, SampleScore, score_sample
from rubricate.store import Store, judgment_key, response_key
from rubricate.types import JudgeRequest, Message, Sample, Verdict

__all__ = ["GradeOptions", "Grader", "SkippedSample"]

logger = logging.getLogger(__name__)

_REASK = (
    "Your reply did not contain a valid verdict for criterion id(s) {ids}. "
    "Reply again with only the JSON object described in the instructions."
)


@dataclass(frozen=True, slots=True)
class GradeOptions:
    """How to grade.

    Attributes:
        mode: ``per-criterion`` (one call per criterion) or ``grouped`` (``group_size`` per call).
        method: scoring method, see ``rubricate.scoring``.
        soft: use the judge's P(met) as the criterion value where known.
        explain: ask the judge for a short explanation before each verdict.
        probabilities: ask remote judges for token log-probabilities to fill ``probability``.
        max_tokens: completion budget per call (default depends on mode and ``explain``).
        reasks: how many times an unparseable or incomplete reply is asked again.
        concurrency: judge calls in flight at once.
        window: samples in flight at once (bounds memory; default 4 x concurrency, or 1
            when calls go one at a time).
    """

    mode: Mode = "per-criterion"
    group_size: int = 4
    method: Method = "healthbench"
    soft: bool = False
    explain: bool = False
    probabilities: bool = False
    max_tokens: int | None = None
    reasks: int = 2
    concurrency: int = 16
    window: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("per-criterion", "grouped"):
            raise ConfigError(f"unknown mode '{self.mode}' (per-criterion or grouped)")
        if self.group_size < 1:
            raise ConfigError("group_size must be at least 1")
        if self.concurrency < 1:
            raise ConfigError("concurrency must be at least 1")
        if self.reasks < 0:
            raise ConfigError("reasks must be 0 or more")

    @property
    def mode_tag(self) -> str:
        return self.mode if self.mode == "per-criterion" else f"grouped:{self.group_size}"

    def tokens_for(self, n_criteria: int) -> int:
        if self.max_tokens is not None:
            return self.max_tokens
        per = 160 if self.explain else 24
        return 40 + per * n_criteria


@dataclass(slots=True)
class Counters:
    """Live run counters (a plain dataclass: they change on the hot path).

    ``Counts`` / ``Tokens`` in ``_results`` are their file form.
    """

    criteria: int = 0
    judge_calls: int = 0
    cache_hits: int = 0
    errors: int = 0
    cannot_assess: int = 0
    skipped_lines: int = 0
    failed_calls: int = 0
    unparseable_replies: int = 0
    reasked: int = 0
    deduplicated: int = 0
    gate_failed: int = 0
    policy_calls: int = 0
    policy_cache_hits: int = 0

    def snapshot(self) -> Counts:
        return Counts.model_validate(self, from_attributes=True)


@dataclass(slots=True)
class TokenCounters:
    prompt: int = 0
    cached_prompt: int = 0
    completion: int = 0

    def snapshot(self) -> Tokens:
        return Tokens.model_validate(self, from_attributes=True)


@dataclass(frozen=True, slots=True)
class SkippedSample:
    """A sample that could not be graded (bad line, no response); counted, never scored."""

    reason: str


class Grader:
    """Grades samples through one judge, with a shared cache and shared counters."""

    def __init__(
        self,
        judge: Judge,
        *,
        store: Store | None = None,
        options: GradeOptions | None = None,
        policy: Judge | None = None,
        policy_max_tokens: int = 1024,
        policy_temperature: float = 0.7,
    ) -> None:
        self.judge = judge
        self.store = store
        self.options = options or GradeOptions()
        self.policy = policy
        self.policy_max_tokens = policy_max_tokens
        self.policy_temperature = policy_temperature
        self.template = load_template(self.options.mode, self.options.explain)
        self.counts = Counters()
        self.tokens = TokenCounters()
        self._calls = asyncio.Semaphore(self.options.concurrency)
        # key -> future of a judgment being decided; the future is made only when a
        # second caller asks for the same key (most keys are never shared).
        self._inflight: dict[str, asyncio.Future[Verdict] | None] = {}
        self.on_progress: Callable[[Grader], None] | None = None
        self.criteria_decided = 0  # verdicts known so far (cached, judged or errored)
        # Decided but not yet committed: looked up like the store, so that a sample arriving
        # between a decision and its commit does not ask for it again.
        self._unwritten: dict[str, Verdict] = {}

    # --- responses --------------------------------------------------------------

    async def _ensure_response(self, sample: Sample) -> Sample:
        if sample.response is not None:
            return sample
        if self.policy is None:
            raise InputError(
                f"sample '{sample.id}' has no response: give one in the data, "
                "with --responses, or sample it with --policy-url/--policy-model"
            )
        key = response_key(self.policy.fingerprint, sample.conversation_hash(), sample.id)
        cached = self.store.get_response(key) if self.store is not None else None
        if cached is not None:
            self.counts.policy_cache_hits += 1
            return sample.with_response(cached)
        request = JudgeRequest(
            messages=sample.messages,
            criterion_ids=(),
            max_tokens=self.policy_max_tokens,
            temperature=self.policy_temperature,
        )
        reply = await self.policy.complete(request)
        self.counts.policy_calls += 1
        if self.store is not None:
            self.store.put_response(key, reply.text)
        return sample.with_response(reply.text)

    # --- judging ----------------------------------------------------------------

    async def _decide(self, shared: str, criteria: Sequence[Criterion]) -> dict[str, Verdict]:
        """Verdicts for ``criteria`` from one call, re-asking for what the reply left out."""
        remaining = list(criteria)
        verdicts: dict[str, Verdict] = {}
        history: tuple[Message, ...] = ()
        last_raw = ""
        failure: str | None = None
        for attempt in range(self.options.reasks + 1):
            request = build_request(
                self.template,
                shared,
                remaining,
                max_tokens=self.options.tokens_for(len(remaining)),
                want_probabilities=self.options.probabilities,
            )
            if history:
                request = replace(request, messages=request.messages + history, answer_prefix="")
            try:
                async with self._calls:
                    reply = await self.judge.complete(request)
            except BackendError as error:
                self.counts.failed_calls += 1
                failure = f"judge call failed: {error}"
                logger.warning("judge call failed for %d criteria: %s", len(remaining), error)
                break
            self.counts.judge_calls += 1
            usage, tokens = reply.usage, self.tokens
            tokens.prompt += usage.prompt_tokens
            tokens.cached_prompt += usage.cached_prompt_tokens
            tokens.completion += usage.completion_tokens
            last_raw = reply.text
            if len(remaining) == 1:
                try:
                    verdicts[remaining[0].id] = parse_single_reply(
                        reply.text, remaining[0], reply.probabilities, shown=shared
                    )
                    remaining = []
                except VerdictError:
                    pass
            else:
                found, _ = parse_group_reply(reply.text, remaining, shown=shared)
                verdicts.update(found)
                remaining = [c for c in remaining if c.id not in found]
            if not remaining:
                break
            self.counts.unparseable_replies += 1
            if attempt < self.options.reasks:
                self.counts.reasked += len(remaining)
                ids = ", ".join(c.id for c in remaining)
                history = (
                    Message("assistant", reply.text),
                    Message("user", _REASK.format(ids=ids)),
                )
        for criterion in remaining:
            reason = failure or (
                f"no valid verdict after {self.options.reasks + 1} attempts; last reply: "
                f"{last_raw[:300]!r}"
            )
            verdicts[criterion.id] = Verdict(criterion.id, "error", explanation=reason)
        return verdicts

    async def _judge_unit(
        self, shared: str, unit: list[tuple[Criterion, str]]
    ) -> dict[str, Verdict]:
        """Decide one call's criteria, store the verdicts and wake anyone waiting on them."""
        try:
            verdicts = await self._decide(shared, [c for c, _ in unit])
        except BaseException as error:
            for _, key in unit:
                future = self._inflight.pop(key, None)
                if future is not None and not future.done():
                    future.set_exception(error)
                    future.exception()  # mark retrieved: nobody may be waiting
            raise
        if self.store is not None:
            if not self._unwritten:
                # Group commit: everything decided in this turn of the event loop is written
                # in one transaction at the start of the next, microseconds later.
                asyncio.get_running_loop().call_soon(self.flush)
            self._unwritten.update(
                (key, verdicts[c.id]) for c, key in unit if verdicts[c.id].label != "error"
            )
        for criterion, key in unit:
            future = self._inflight.pop(key, None)
            if future is not None and not future.done():
                future.set_result(verdicts[criterion.id])
        self.criteria_decided += len(unit)
        if self.on_progress is not None:
            self.on_progress(self)
        return verdicts

    async def verdicts_for(self, sample: Sample) -> dict[str, Verdict]:
        """Verdicts on every criterion of ``sample`` (which must have a response)."""
        rubric = sample.rubric
        conversation = sample.conversation_hash()
        judge_fp, version, mode = (
            self.judge.fingerprint,
            self.template.version,
            self.options.mode_tag,
        )
        keys = [
            judgment_key(judge_fp, version, c.fingerprint, conversation, mode)
            for c in rubric.criteria
        ]
        hits = self.store.get_judgments(keys) if self.store is not None else {}
        if self._unwritten:
            hits.update((k, self._unwritten[k]) for k in keys if k in self._unwritten)
        verdicts: dict[str, Verdict] = {}
        waits: list[tuple[Criterion, asyncio.Future[Verdict]]] = []
        misses: list[tuple[Criterion, str]] = []
        loop = asyncio.get_running_loop()
        for criterion, key in zip(rubric.criteria, keys, strict=True):
            hit = hits.get(key)
            if hit is not None:
                verdicts[criterion.id] = replace(hit, criterion_id=criterion.id)
                self.counts.cache_hits += 1
                self.criteria_decided += 1
            elif key in self._inflight:
                future = self._inflight[key]
                if future is None:
                    future = self._inflight[key] = loop.create_future()
                waits.append((criterion, future))
                self.counts.deduplicated += 1
            else:
                self._inflight[key] = None
                misses.append((criterion, key))
        if misses:
            shared = render_shared(sample)
            size = 1 if self.options.mode == "per-criterion" else self.options.group_size
            units = [misses[i : i + size] for i in range(0, len(misses), size)]
            # All but the first unit run as tasks; the first runs in this task meanwhile.
            tasks = [asyncio.ensure_future(self._judge_unit(shared, u)) for u in units[1:]]
            try:
                verdicts.update(await self._judge_unit(shared, units[0]))
                for task in tasks:
                    verdicts.update(await task)
            finally:
                for task in tasks:
                    task.cancel()
        for criterion, future in waits:
            verdicts[criterion.id] = replace(await future, criterion_id=criterion.id)
            self.criteria_decided += 1
        if hits and self.on_progress is not None:
            self.on_progress(self)
        return verdicts

    def flush(self) -> None:
        """Write decided verdicts to the store (called automatically each loop turn)."""
        if self._unwritten and self.store is not None:
            pending, self._unwritten = self._unwritten, {}
            self.store.put_judgments(list(pending.items()))

    # --- samples ----------------------------------------------------------------

    def _result(
        self, sample: Sample, verdicts: dict[str, Verdict], scored: SampleScore
    ) -> SampleResult:
        records = []
        for criterion in sample.rubric.criteria:
            verdict = verdicts[criterion.id]
            # Built from values this process made and validated already: skip re-validation.
            records.append(
                VerdictRecord.model_construct(
                    criterion_id=criterion.id,
                    criterion=criterion.text,
                    points=criterion.points,
                    tags=list(criterion.tags),
                    required=criterion.required,
                    scale=None if criterion.scale.kind == "binary" else criterion.scale,
                    verdict=verdict.label,
                    probability=verdict.probability,
                    level=verdict.level,
                    explanation=verdict.explanation,
                )
            )
        return SampleResult.model_construct(
            sample_id=sample.id,
            rubric_id=sample.rubric.id,
            rubric_fingerprint=sample.rubric.fingerprint,
            gate_floor=sample.rubric.gate_floor,
            method=self.options.method,
            score=scored.score,
            axes=scored.axes,
            gate_failed=list(scored.gate_failed),
            native_score=scored.native.score if scored.native is not None else None,
            native=scored.native.parts if scored.native is not None else {},
            verdicts=records,
            judge=self.judge.fingerprint,
            template=self.template.version,
            metadata=sample.metadata,
        )

    async def grade_sample(self, sample: Sample) -> SampleResult:
        """Grade one sample: response (sampled if needed), verdicts, score."""
        sample = await self._ensure_response(sample)
        verdicts = await self.verdicts_for(sample)
        scored = score_sample(
            sample.rubric, verdicts, method=self.options.method, soft=self.options.soft
        )
        counts = self.counts
        counts.criteria += scored.n_criteria
        counts.errors += scored.n_errors
        counts.cannot_assess += scored.n_cannot_assess
        counts.gate_failed += 1 if scored.gate_failed else 0
        return self._result(sample, verdicts, scored)

    async def _graded_or_skipped(self, sample: Sample) -> SampleResult | SkippedSample:
        try:
            return await self.grade_sample(sample)
        except InputError as error:
            return SkippedSample(str(error))

    async def iter_grade(
        self, samples: Iterable[Sample | InputError]
    ) -> AsyncIterator[SampleResult | SkippedSample]:
        """Grade a stream of samples, yielding results in input order.

        A bad record (an ``InputError`` item) or a sample that cannot get a response is
        yielded as ``SkippedSample``; the caller decides whether that stops the run.
        At most ``options.window`` samples are in flight, so memory stays flat.
        """
        window = self.options.window or (
            # One call at a time: finish a sample before starting the next, so a judge that
            # caches only the last prompt's prefix sees a sample's criteria back to back.
            1 if self.options.concurrency == 1 else max(8, 4 * self.options.concurrency)
        )

        def start(item: Sample | InputError) -> Awaitable[SampleResult | SkippedSample]:
            if isinstance(item, InputError):
                return _done(SkippedSample(str(item)))
            return self._graded_or_skipped(item)

        try:
            async with aclosing(map_in_order(samples, start, window)) as results:
                async for result in results:
                    yield result
        finally:
            self.flush()


def _done(value: SkippedSample) -> asyncio.Future[SampleResult | SkippedSample]:
    future: asyncio.Future[SampleResult | SkippedSample] = (
        asyncio.get_running_loop().create_future()
    )
    future.set_result(value)
    return future
