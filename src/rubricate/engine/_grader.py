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
from dataclasses import replace
from typing import Any

from rubricate.backends import Judge
from rubricate.calibrate import CalibrationFile, JudgeCalibration
from rubricate.engine._calls import CallEngine, JudgmentCache
from rubricate.engine._evidence import evidence_support
from rubricate.engine._jury import Jury
from rubricate.engine._options import (
    GROUP_WINDOW,
    GradeOptions,
    SkippedSample,
)
from rubricate.engine._ordered import map_in_order
from rubricate.engine._pacing import paced_collector
from rubricate.engine._reading import ReplyTable, Shown, UnitReader
from rubricate.errors import BackendError, ConfigError, InputError
from rubricate.judge import (
    build_request,
    build_rubric_first_request,
    check_evidence,
    load_template,
    render_conversation,
    render_response,
    reply_schema,
    require_evidence,
)
from rubricate.jury import combine_verdicts
from rubricate.results import RESPONSE_CHARS, CallCounts, Counts, SampleResult, Tokens
from rubricate.rubric import Criterion
from rubricate.scoring import SampleScore, score_sample
from rubricate.store import Store, judgment_key
from rubricate.types import JudgeRequest, RawReply, Sample, Verdict, Vote

__all__ = ["Grader", "Respond"]

logger = logging.getLogger(__name__)

Respond = Callable[[Sample], Awaitable[Sample]]


class Grader:
    """Grades samples through one judge, with a shared cache and shared counters.

    Judge calls go through one ``CallEngine`` (cache, in-flight dedup, slots, re-asks,
    tokens); a sample without a response is the policy stage's job (``PolicySampler``).

    With a ``jury``, each member is graded by its own ``Grader`` (``members``) and the jury
    decides each criterion from their verdicts; ``judge`` is then unused for grading (pass
    the first member's). With a ``calibration``, every judge's P(met) is mapped and, at the
    judge's threshold, decides ``met`` or ``not_met`` on binary criteria; the cache keeps
    the judges' own verdicts.
    """

    def __init__(
        self,
        judge: Judge,
        *,
        store: Store | None = None,
        options: GradeOptions | None = None,
        jury: Jury | None = None,
        calibration: CalibrationFile | None = None,
    ) -> None:
        self.judge = judge
        self.jury = jury
        self.calibration = calibration
        self.members: tuple[Grader, ...] = ()
        self._calibration: JudgeCalibration | None = None
        if jury is not None:
            self.members = tuple(
                Grader(m.judge, store=store, options=options, calibration=calibration)
                for m in jury.members
            )
        elif calibration is not None:
            self._calibration = calibration.judges.get(judge.fingerprint)
            if self._calibration is None:
                known = ", ".join(sorted(calibration.judges))
                raise ConfigError(
                    f"the calibration has no map for judge {judge.fingerprint} (it has: {known})"
                )
        self.store = store
        self.options = options or GradeOptions()
        self.template = load_template(
            self.options.mode,
            self.options.explain,
            self.options.evidence != "off",
            self.options.layout,
        )
        self.calls: CallEngine[Verdict] = CallEngine(
            judge,
            cache=JudgmentCache(store, replies=self.options.keep_replies)
            if store is not None
            else None,
            concurrency=self.options.concurrency,
            reasks=self.options.reasks,
        )
        self.scored = Counts()  # what scoring counts; the judge's calls are in ``calls.counts``
        self.on_progress: Callable[[Grader], None] | None = None
        self.criteria_decided = 0  # verdicts known so far (cached, judged or errored)
        self._mode_tag = self.options.mode_tag
        self._unit_size = 1 if self.options.mode == "per-criterion" else self.options.group_size
        self._rubric_first = self.options.layout == "rubric-first"

    @property
    def fingerprint(self) -> str:
        """The judge (or jury) as results name it, with the calibration's digest when one applies."""
        base = self.jury.fingerprint if self.jury is not None else self.judge.fingerprint
        if self.calibration is not None:
            return f"{base}+calibration:{self.calibration.digest}"
        return base

    @property
    def call_counts(self) -> CallCounts:
        """The judge's calls so far (live), or the sum of a jury's members' (a copy)."""
        if self.members:
            total = CallCounts()
            for member in self.members:
                total = total + member.calls.counts
            return total
        return self.calls.counts

    @property
    def counts(self) -> Counts:
        """The run's counts so far (a copy)."""
        return self.scored.with_calls(self.call_counts)

    @property
    def tokens(self) -> Tokens:
        """The judge's tokens so far (live; a jury's summed, a copy)."""
        return self.call_counts.tokens

    # --- judging ----------------------------------------------------------------

    async def _decide(
        self, shown: Shown, criteria: list[Criterion], keys: list[str]
    ) -> dict[str, Verdict]:
        """Verdicts for ``criteria`` (claimed under ``keys``) from one call, re-asking for what
        the reply left out; then cached, and handed to anyone waiting on them."""
        options = self.options
        reader = UnitReader(
            self._request,
            shown,
            criteria,
            evidence=options.evidence != "off",
            keep_replies=options.keep_replies,
            rubric_first=self._rubric_first,
        )
        failure: BackendError | None = None
        try:
            await self.calls.ask(self._request(shown, criteria), reader.read)
        except BackendError as error:
            logger.warning("judge call failed for %d criteria: %s", len(reader.remaining), error)
            failure = error
        except BaseException as error:
            self.calls.release(keys, error)
            raise
        verdicts, kept = reader.verdicts, reader.kept
        if len(verdicts) < len(criteria):
            reason = (
                f"judge call failed: {failure}"
                if failure is not None
                else f"no valid verdict after {self.options.reasks + 1} attempts; last reply: "
                f"{reader.last_raw[:300]!r}"
            )
            # An error keeps the last reply it could not use, or says no reply came.
            unused = (
                RawReply(None, reader.replies_read, "failed_call")
                if failure is not None
                else RawReply(reader.last_raw, max(reader.replies_read - 1, 0))
            )
            for criterion in criteria:
                if criterion.id not in verdicts:
                    verdicts[criterion.id] = Verdict(criterion.id, "error", explanation=reason)
                    if kept is not None:
                        kept[criterion.id] = unused
        if kept is not None:
            verdicts = {cid: replace(v, reply=kept.get(cid)) for cid, v in verdicts.items()}
        self.calls.settle(zip(keys, [verdicts[c.id] for c in criteria], strict=True))
        self.criteria_decided += len(criteria)
        if self.on_progress is not None:
            self.on_progress(self)
        return verdicts

    def _request(self, shown: Shown, criteria: list[Criterion]) -> JudgeRequest:
        options = self.options
        rubric_first = self._rubric_first
        schema = (
            reply_schema(
                criteria,
                explain=options.explain,
                evidence=options.evidence != "off",
                keyed=rubric_first,
            )
            if options.constrain == "json_schema"
            else None
        )
        if rubric_first:
            return build_rubric_first_request(
                self.template,
                shown.conversation,
                shown.response,
                criteria,
                max_tokens=options.tokens_for(len(criteria)),
                reply_schema=schema,
            )
        return build_request(
            self.template,
            shown.text,
            criteria,
            max_tokens=options.tokens_for(len(criteria)),
            want_probabilities=options.probabilities,
            reply_schema=schema,
        )

    async def verdicts_for(self, sample: Sample) -> dict[str, Verdict]:
        """Verdicts on every criterion of ``sample`` (which must have a response)."""
        if self.jury is not None:
            return await self._jury_verdicts(self.jury, sample)
        verdicts = await self._own_verdicts(sample)
        if self._calibration is not None:
            verdicts = _calibrated(self._calibration, sample, verdicts)
        return verdicts

    async def _jury_verdicts(self, jury: Jury, sample: Sample) -> dict[str, Verdict]:
        """Every member's verdicts, then the jury's per criterion with the votes kept."""
        outcomes = await asyncio.gather(*(m.verdicts_for(sample) for m in self.members))
        verdicts: dict[str, Verdict] = {}
        for criterion in sample.rubric.criteria:
            votes = tuple(
                Vote(
                    member.judge.fingerprint,
                    decided[criterion.id].label,
                    decided[criterion.id].probability,
                    decided[criterion.id].level,
                    member.weight,
                    decided[criterion.id].reply,
                )
                for member, decided in zip(jury.members, outcomes, strict=True)
            )
            verdict = combine_verdicts(criterion.id, jury.rule, votes)
            verdicts[criterion.id] = replace(verdict, votes=votes)
        self.criteria_decided += len(verdicts)
        if self.on_progress is not None:
            self.on_progress(self)
        return verdicts

    async def _own_verdicts(self, sample: Sample) -> dict[str, Verdict]:
        criteria = sample.rubric.criteria
        conversation = sample.conversation_hash()
        judge_fp, version, mode = self.judge.fingerprint, self.template.version, self._mode_tag
        keys = []
        for criterion in criteria:  # a loop: a comprehension would put its names in cells
            keys.append(judgment_key(judge_fp, version, criterion.fingerprint, conversation, mode))
        claim = self.calls.claim(keys)
        hits, waits = claim.hits, claim.waits
        verdicts: dict[str, Verdict] = {}
        missed: list[Criterion] = []
        missed_keys: list[str] = []
        waiting: list[tuple[Criterion, asyncio.Future[Verdict]]] = []
        # A key this sample holds twice is claimed once and waited on for its second place.
        owned = set(claim.misses) if waits else None
        for criterion, key in zip(criteria, keys, strict=True):
            hit = hits.get(key)
            if hit is not None:
                verdicts[criterion.id] = replace(hit, criterion_id=criterion.id)
            elif owned is None:
                missed.append(criterion)
                missed_keys.append(key)
            elif key in owned:
                owned.discard(key)
                missed.append(criterion)
                missed_keys.append(key)
            else:
                waiting.append((criterion, waits[key]))
        self.criteria_decided += len(verdicts)
        if missed:
            conversation = render_conversation(sample)
            response = render_response(sample, intro=not self._rubric_first)
            shown = Shown(conversation, response, conversation + response)
            units = self._units(criteria, missed, missed_keys)
            # All but the first unit run as tasks; the first runs in this task meanwhile.
            spawn = asyncio.get_running_loop().create_task
            decide = self._decide
            tasks = []
            for unit, unit_keys in units[1:]:
                tasks.append(spawn(decide(shown, unit, unit_keys)))
            try:
                verdicts.update(await decide(shown, *units[0]))
                for task in tasks:
                    verdicts.update(await task)
            finally:
                for task in tasks:
                    task.cancel()
        for criterion, future in waiting:
            verdicts[criterion.id] = replace(await future, criterion_id=criterion.id)
            self.criteria_decided += 1
        if hits and self.on_progress is not None:
            self.on_progress(self)
        return verdicts

    def _units(
        self, criteria: Sequence[Criterion], missed: list[Criterion], keys: list[str]
    ) -> list[tuple[list[Criterion], list[str]]]:
        """The calls deciding ``missed`` (claimed under ``keys``), ``group_size`` (or one)
        criteria each.

        Response-first packs the misses. Rubric-first cuts the whole rubric into fixed
        chunks and asks each chunk's misses, so every response of a group gets the same
        chunks (and the same prompt prefix) whatever the cache already held for it.
        """
        size = self._unit_size
        if not self._rubric_first:
            return [(missed[i : i + size], keys[i : i + size]) for i in range(0, len(missed), size)]
        chunk_of = {c.id: position // size for position, c in enumerate(criteria)}
        chunks: dict[int, tuple[list[Criterion], list[str]]] = {}
        for criterion, key in zip(missed, keys, strict=True):
            unit, unit_keys = chunks.setdefault(chunk_of[criterion.id], ([], []))
            unit.append(criterion)
            unit_keys.append(key)
        return [chunks[index] for index in sorted(chunks)]

    def flush(self) -> None:
        """Write decided verdicts to the store (called automatically each loop turn)."""
        self.calls.flush()
        for member in self.members:
            member.flush()

    # --- samples ----------------------------------------------------------------

    def _result(
        self,
        sample: Sample,
        verdicts: dict[str, Verdict],
        scored: SampleScore,
        judged: dict[str, str],
    ) -> SampleResult:
        # One validation of plain data in pydantic-core costs a third of building each
        # record with ``model_construct`` in Python. Tags go in as the tuple they are: the
        # list field takes it as a list, without a copy made here first.
        records: list[dict[str, Any]] = []
        replies = ReplyTable() if self.options.keep_replies else None
        for criterion in sample.rubric.criteria:
            verdict = verdicts[criterion.id]
            votes, quotes = verdict.votes, verdict.evidence
            records.append(
                {
                    "criterion_id": criterion.id,
                    "criterion": criterion.text,
                    "points": criterion.points,
                    "tags": criterion.tags,
                    "required": criterion.required,
                    "scale": None if criterion.scale.kind == "binary" else criterion.scale,
                    "verdict": verdict.label,
                    "probability": verdict.probability,
                    "level": verdict.level,
                    "explanation": verdict.explanation,
                    "raw_probability": verdict.raw_probability,
                    "jury": [
                        {
                            "judge": v.judge,
                            "verdict": v.verdict,
                            "probability": v.probability,
                            "level": v.level,
                            "weight": v.weight,
                        }
                        for v in votes
                    ]
                    if votes
                    else None,
                    "evidence": None
                    if quotes is None
                    else [{"quote": q.text, "found": q.found} for q in quotes],
                    "judged": judged.get(criterion.id) if judged else None,
                }
            )
            if replies is not None:
                record = records[-1]
                record["raw_reply"] = replies.index(verdict.reply)
                for vote, vote_record in zip(verdict.votes, record["jury"] or (), strict=True):
                    vote_record["raw_reply"] = replies.index(vote.reply)
        rubric = sample.rubric
        native = scored.native
        # The length of what was graded (also a policy-written response), so the summary's
        # length-adjusted score can be recomputed from results.jsonl alone.
        metadata = {**sample.metadata, RESPONSE_CHARS: len(sample.response or "")}
        return SampleResult.model_validate(
            {
                "sample_id": sample.id,
                "rubric_id": rubric.id,
                "rubric_fingerprint": rubric.fingerprint,
                "gate_floor": rubric.gate_floor,
                "method": self.options.method,
                "score": scored.score,
                "axes": scored.axes,
                "clusters": scored.clusters,
                "gate_failed": list(scored.gate_failed),
                "native_scheme": native.scheme if native is not None else None,
                "native_score": native.score if native is not None else None,
                "native": native.parts if native is not None else {},
                "verdicts": records,
                "judge": self.fingerprint,
                "template": self.template.version,
                "metadata": metadata,
                "raw_replies": replies.records if replies is not None else None,
            }
        )

    async def grade_sample(self, sample: Sample) -> SampleResult:
        """Grade one sample: verdicts, score; ``InputError`` when it has no response."""
        if sample.response is None:
            raise InputError(
                f"sample '{sample.id}' has no response: give one in the data, "
                "with --responses, or sample it with --policy-url/--policy-model"
            )
        verdicts = await self.verdicts_for(sample)
        judged: dict[str, str] = {}  # the judge's label where strict evidence overrode it
        if self.options.evidence != "off":
            verdicts, judged = self._weigh_evidence(sample, verdicts)
        scored = score_sample(
            sample.rubric, verdicts, method=self.options.method, soft=self.options.soft
        )
        counts = self.scored
        counts.add_scored(
            scored.n_criteria, scored.n_errors, scored.n_cannot_assess, bool(scored.gate_failed)
        )
        result = self._result(sample, verdicts, scored, judged)
        if self.options.evidence != "off":
            # Counted from the stored records, as ``rubricate score`` recounts them.
            for record in result.verdicts:
                counts.add_evidence(evidence_support(record))
        return result

    def _weigh_evidence(
        self, sample: Sample, verdicts: dict[str, Verdict]
    ) -> tuple[dict[str, Verdict], dict[str, str]]:
        """Check every quote against the response (cached verdicts keep only the quotes)
        and under ``strict`` drop the unsupported mets."""
        response = sample.response or ""
        strict = self.options.evidence == "strict"
        checked: dict[str, Verdict] = {}
        judged: dict[str, str] = {}
        for criterion in sample.rubric.criteria:
            verdict = verdicts[criterion.id]
            if verdict.evidence is not None:
                verdict = check_evidence(verdict, response)
            if strict:
                kept = require_evidence(verdict, criterion)
                if kept.label != verdict.label:
                    judged[criterion.id] = verdict.label
                verdict = kept
            checked[criterion.id] = verdict
        return checked, judged

    async def _graded_or_skipped(
        self, sample: Sample, respond: Respond | None
    ) -> SampleResult | SkippedSample:
        try:
            if respond is not None and sample.response is None:
                sample = await respond(sample)
            return await self.grade_sample(sample)
        except InputError as error:
            return SkippedSample(str(error))

    async def iter_grade(
        self, samples: Iterable[Sample | InputError], *, respond: Respond | None = None
    ) -> AsyncIterator[SampleResult | SkippedSample]:
        """Grade a stream of samples, yielding results in input order.

        ``respond`` is the stage before grading that writes a missing response (see
        ``PolicySampler.respond``); it runs per sample inside the same window.
        A bad record (an ``InputError`` item) or a sample that cannot get a response is
        yielded as ``SkippedSample``; the caller decides whether that stops the run.
        At most ``options.window`` samples are in flight, so memory stays flat. While it
        runs, the garbage collector examines its middle generation less often
        (``engine._pacing``: fewer full collections walking the caller's own objects).
        """
        options = self.options
        if options.window:
            window = options.window
        elif options.concurrency > 1:
            window = max(8, 4 * options.concurrency)
        elif self._rubric_first:
            # One call at a time, rubric-first: a group's responses in flight together, so
            # the engine can send their calls on one chunk back to back (see ``CallEngine``).
            window = GROUP_WINDOW
        else:
            # One call at a time: finish a sample before starting the next, so a judge that
            # caches only the last prompt's prefix sees a sample's criteria back to back.
            window = 1

        def start(item: Sample | InputError) -> Awaitable[SampleResult | SkippedSample]:
            if isinstance(item, InputError):
                return _done(SkippedSample(str(item)))
            return self._graded_or_skipped(item, respond)

        try:
            with paced_collector():
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


def _calibrated(
    calibration: JudgeCalibration, sample: Sample, verdicts: dict[str, Verdict]
) -> dict[str, Verdict]:
    """Calibrated P(met) and, on binary criteria, the label at the threshold."""
    out = dict(verdicts)
    for criterion in sample.rubric.criteria:
        verdict = verdicts[criterion.id]
        if verdict.probability is None or verdict.label not in ("met", "not_met"):
            continue
        probability, met = calibration.apply(verdict.probability)
        label = verdict.label
        if criterion.scale.kind == "binary":
            label = "met" if met else "not_met"
        out[criterion.id] = replace(
            verdict, label=label, probability=probability, raw_probability=verdict.probability
        )
    return out
