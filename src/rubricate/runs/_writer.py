"""The one run writer: grading, rubric generation and Ray runs all write through ``RunWriter``.

A run holds the lock of its results file while it writes (``RunLock``: a second run on the
same directory is refused at once), writes its lines to ``<results>.partial`` and publishes
them with the summary when it completes, so a killed run never leaves a file that looks
finished. Publishing is two renames, and a kill can fall between them; so the summary names
the results it belongs to (line count and sha256) and the old summary is removed before the
new results arrive: after a kill there is either no summary or one describing these results,
never one describing others. With a store, the run is journalled under the hash of what was
asked for, so a repeated command is recorded as a resumed attempt (its finished calls come
from the cache).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from rubricate.engine import Grader, PolicySampler, SkippedSample
from rubricate.errors import ConfigError, InputError
from rubricate.jury import AgreementTally
from rubricate.results import (
    RESPONSE_CHARS,
    Counts,
    GroupSummary,
    JuryVoteRecord,
    LengthAdjusted,
    NativeSummary,
    RepliesSummary,
    RunSummary,
    SampleResult,
    Tokens,
)
from rubricate.runs._check import InputCheck, check_input, run_failure, status_fields
from rubricate.runs._lock import RunLock
from rubricate.scoring import (
    NativeScore,
    NativeTally,
    length_adjusted_score,
    sample_themes,
    summarize,
    summarize_tags,
)
from rubricate.store import Store
from rubricate.types import Sample
from rubricate.version import __version__

__all__ = [
    "OnInvalid",
    "RunAccumulator",
    "RunWriter",
    "SampleSource",
    "grade_to_dir",
    "jury_agreement",
    "run_id_for",
    "write_json",
]

logger = logging.getLogger(__name__)

OnInvalid = Literal["error", "skip"]
Items = Iterable[Sample | InputError]
# Samples for ``grade_to_dir``: a function giving a fresh iterable on each call, or a
# collection; either can be read twice (checked, then graded) without holding a copy.
SampleSource = Items | Callable[[], Items]
_MAX_SKIP_REASONS = 20


@dataclass
class RunAccumulator:
    """Builds the run summary as results stream past, through the scoring core.

    Per sample it keeps floats only (flat memory per sample): the score, each axis's and
    cluster's score, the score again under each ``theme:`` example tag, and with
    ``length_penalty`` the length-adjusted score; the native figures are tallied
    (``NativeTally``). ``summary`` then gives each its clipped mean and seeded bootstrap.

    Args:
        length_penalty: HealthBench's length penalty; ``None`` leaves ``length_adjusted`` out.
            Each scored result must then carry ``metadata.response_chars``.
    """

    length_penalty: float | None = None
    scores: list[float | None] = field(default_factory=list)
    axes: dict[str, list[float | None]] = field(default_factory=dict)
    themes: dict[str, list[float | None]] = field(default_factory=dict)
    clusters: dict[str, list[float | None]] = field(default_factory=dict)
    adjusted: list[float | None] = field(default_factory=list)
    native: NativeTally = field(default_factory=NativeTally)
    native_mixed: bool = False
    skipped: list[str] = field(default_factory=list)
    n_skipped: int = 0
    # A jury's agreement figures, tallied per criterion as results arrive (flat memory).
    jury: AgreementTally = field(default_factory=AgreementTally)
    # The kept judge replies, when results carry them (``None``: no result did).
    replies: RepliesSummary | None = None

    def __post_init__(self) -> None:
        penalty = self.length_penalty
        if penalty is not None and (not math.isfinite(penalty) or penalty < 0):
            raise ConfigError(f"length penalty must be a finite number >= 0, got {penalty!r}")

    def add(self, result: SampleResult) -> None:
        """Count one graded sample.

        Raises ``InputError`` when a length penalty is set and a scored result has no
        response length (``response_chars``, an integer >= 0).
        """
        score = result.score
        self.scores.append(score)
        for axis, value in result.axes.items():
            self.axes.setdefault(axis, []).append(value)
        for tag, value in result.clusters.items():
            self.clusters.setdefault(tag, []).append(value)
        example_tags = result.metadata.get("example_tags")
        if isinstance(example_tags, list):
            for theme in sample_themes(example_tags):
                self.themes.setdefault(theme, []).append(score)
        if self.length_penalty is not None:
            self.adjusted.append(self._adjusted(result))
        if result.native_scheme is not None and not self.native_mixed:
            try:
                self.native.add(
                    NativeScore(result.native_scheme, result.native_score, dict(result.native))
                )
            except ValueError as error:
                # Possible only when results of different benchmarks are scored together:
                # the [0, 1] score still means something, a native figure would not.
                logger.warning("no native score for this run: %s", error)
                self.native_mixed = True
        for record in result.verdicts:
            if record.jury:
                members = {vote.judge: _category(vote) for vote in record.jury}
                self.jury.add(members, _category(record))
        if result.raw_replies is not None:
            self._count_replies(result)

    def _count_replies(self, result: SampleResult) -> None:
        """Count, per verdict (per vote under a jury), whether its reply is on the line."""
        tally = self.replies = self.replies or RepliesSummary()
        for record in result.verdicts:
            positions = [v.raw_reply for v in record.jury] if record.jury else [record.raw_reply]
            for position in positions:
                reply = result.reply_for(position)
                if reply is not None and reply.text is not None:
                    tally.kept += 1
                else:
                    # No reference at all: the line says nothing about this verdict's reply.
                    reason = reply.missing if reply is not None else None
                    key = reason or "not_recorded"
                    tally.missing[key] = tally.missing.get(key, 0) + 1

    def _adjusted(self, result: SampleResult) -> float | None:
        if result.score is None or self.length_penalty is None:
            return None
        characters = _response_chars(result)
        if characters is None:
            raise InputError(
                f"sample '{result.sample_id}' has no response length for the length penalty",
                field=f"metadata.{RESPONSE_CHARS}",
            )
        return length_adjusted_score(result.score, characters, self.length_penalty)

    def skip(self, reason: str) -> None:
        self.n_skipped += 1
        if len(self.skipped) < _MAX_SKIP_REASONS:
            self.skipped.append(reason)

    def summary(
        self,
        *,
        method: str,
        counts: Counts,
        tokens: Tokens,
        policy_tokens: Tokens | None = None,
        judge: str = "",
        template: str = "",
        elapsed_s: float | None = None,
        seed: int = 0,
        n_bootstrap: int = 1000,
        jury: dict[str, Any] | None = None,
    ) -> RunSummary:
        run = summarize(self.scores, self.axes, n_bootstrap=n_bootstrap, seed=seed)
        native = None if self.native_mixed else self.native.result()
        length = None
        if self.length_penalty is not None:
            adjusted = summarize(self.adjusted, n_bootstrap=n_bootstrap, seed=seed)
            length = LengthAdjusted(
                penalty=self.length_penalty,
                score=adjusted.score,
                bootstrap_std=adjusted.bootstrap_std,
                ci95=adjusted.ci95,
                n_scored=adjusted.n_scored,
            )
        if jury is None and self.jury.items:
            jury = jury_agreement(self.jury)
        return RunSummary(
            score=run.score,
            bootstrap_std=run.bootstrap_std,
            ci95=run.ci95,
            n_samples=run.n_samples,
            n_scored=run.n_scored,
            method=method,
            axes=run.axes,
            native=(
                NativeSummary(
                    scheme=native.scheme,
                    score=native.score,
                    parts=native.parts,
                    n_scored=native.n_scored,
                )
                if native is not None
                else None
            ),
            themes=_groups(self.themes, n_bootstrap, seed),
            clusters=_groups(self.clusters, n_bootstrap, seed),
            length_adjusted=length,
            replies=self.replies.model_copy(deep=True) if self.replies is not None else None,
            # Copies: the live counters go on changing after the summary is made.
            counts=replace(counts, skipped_lines=self.n_skipped),
            tokens=replace(tokens),
            policy_tokens=replace(policy_tokens) if policy_tokens is not None else Tokens(),
            judge=judge,
            template=template,
            skipped=self.skipped,
            elapsed_s=elapsed_s,
            rubricate_version=__version__,
            jury=jury,
        )

    def graded(
        self,
        grader: Grader,
        policy: PolicySampler | None = None,
        *,
        elapsed_s: float | None = None,
        seed: int = 0,
    ) -> RunSummary:
        """The summary of a grading run: scores here, counts and tokens from its engines."""
        jury = None
        if grader.jury is not None:
            jury = jury_agreement(self.jury, rule=grader.jury.rule)
            for member, engine in zip(grader.jury.members, grader.members, strict=True):
                counts = engine.calls.counts
                entry = jury["judges"].setdefault(member.judge.fingerprint, {})
                entry.update(
                    name=member.label,
                    weight=member.weight,
                    calls=counts.calls,
                    cache_hits=counts.cache_hits,
                    deduplicated=counts.deduplicated,
                    failed_calls=counts.failed_calls,
                    unparseable_replies=counts.unparseable_replies,
                    tokens=asdict(counts.tokens),
                )
        return self.summary(
            method=grader.options.method,
            counts=grader.scored.with_calls(
                grader.call_counts, policy.counts if policy is not None else None
            ),
            tokens=grader.tokens,
            policy_tokens=policy.tokens if policy is not None else None,
            judge=grader.fingerprint,
            template=grader.template.version,
            elapsed_s=elapsed_s,
            seed=seed,
            jury=jury,
        )


def _response_chars(result: SampleResult) -> int | None:
    """The graded response's length recorded on a results line; ``None`` when absent.

    Raises ``InputError`` (field ``metadata.response_chars``) when it is not an integer >= 0.
    """
    value = result.metadata.get(RESPONSE_CHARS)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(
            f"response length must be an integer >= 0, not {value!r}",
            field=f"metadata.{RESPONSE_CHARS}",
        )
    return value


def _groups(
    values: dict[str, list[float | None]], n_bootstrap: int, seed: int
) -> dict[str, GroupSummary]:
    return {
        tag: GroupSummary(
            score=run.score, bootstrap_std=run.bootstrap_std, ci95=run.ci95, n_samples=run.n_scored
        )
        for tag, run in summarize_tags(values, n_bootstrap=n_bootstrap, seed=seed).items()
    }


def _category(vote: JuryVoteRecord | Any) -> str | None:
    """A verdict as an agreement statistic's category: ``None`` when not decided."""
    if vote.verdict in ("error", "cannot_assess"):
        return None
    return str(vote.verdict) if vote.level is None else f"{vote.verdict}:{vote.level}"


def jury_agreement(tally: AgreementTally, *, rule: str | None = None) -> dict[str, Any]:
    """Inter-judge agreement over a jury's criteria and each judge's agreement with the jury.

    Fleiss' kappa uses the criteria every judge decided; Krippendorff's alpha (nominal) every
    criterion at least two judges decided; a judge's ``agreement_with_jury`` is its share of
    criteria where judge and jury both decided and agree. ``None`` where undefined.
    """
    return {
        "rule": rule,
        "criteria": tally.items,
        "fleiss_kappa": tally.fleiss_kappa(),
        "krippendorff_alpha": tally.krippendorff_alpha(),
        "judges": {
            judge: {
                "agreement_with_jury": tally.agreement_with_jury(judge),
                "decided": tally.decided(judge),
            }
            for judge in tally.judges
        },
    }


def run_id_for(config: dict[str, Any]) -> str:
    """Journal id of a run: the hash of what the command asked for."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _write_synced(path: Path, data: Any) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON through a temporary file, so a reader never sees half of it."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    _write_synced(tmp, data)
    os.replace(tmp, path)


def _sync_dir(directory: Path) -> None:
    """Make renames in ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class RunWriter:
    """Lines to ``results`` (through ``.partial``), the summary once, the journal entry.

    Use as a context manager; call ``complete`` when every line is written. Entering takes
    the lock of ``results`` (``ConfigError`` when another run holds it, or when the directory
    cannot be made); leaving releases it. Leaving the block without ``complete`` (an error,
    an interrupt) keeps the ``.partial`` file and journals the attempt as failed.

    Args:
        results: the JSONL file the run produces.
        summary: where ``complete`` writes the summary.
        store: journals the run (``None``: no journal).
        config: what the run was asked to do; its hash is the run id.
        on_invalid: ``error`` raises ``InputError`` at the first skipped item, ``skip`` logs it.
    """

    def __init__(
        self,
        results: str | Path,
        summary: str | Path,
        *,
        store: Store | None = None,
        config: dict[str, Any] | None = None,
        on_invalid: OnInvalid = "error",
    ) -> None:
        if on_invalid not in ("error", "skip"):
            raise ConfigError(f"on_invalid must be 'error' or 'skip', not {on_invalid!r}")
        self.results = Path(results)
        self.summary = Path(summary)
        self.partial = self.results.with_name(self.results.name + ".partial")
        self.store = store
        self.config = config or {}
        self.run_id = run_id_for(self.config)
        self.on_invalid = on_invalid
        self.started = time.perf_counter()
        self.lock = RunLock(self.results)
        self.lines = 0
        self._digest = hashlib.sha256()
        self._handle: Any = None
        self._status = "failed"
        self._summary: dict[str, Any] | None = None

    def __enter__(self) -> RunWriter:
        directory = self.results.parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ConfigError(
                f"cannot write a run into {directory}: it or a folder above it is a file"
            ) from None
        except OSError as error:
            raise ConfigError(f"cannot create {directory}: {error.strerror}") from error
        if self.results.is_dir():
            raise ConfigError(f"{self.results} is a directory, not a results file")
        self.lock.acquire()
        try:
            if self.store is not None:
                record = self.store.start_run(self.run_id, self.config)
                if record.attempts > 1:
                    logger.info("resuming run %s (attempt %d)", self.run_id, record.attempts)
            self._handle = open(self.partial, "wb")
        except BaseException:
            self.lock.release()
            raise
        return self

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self.started

    def write(self, line: str) -> None:
        """One result line (without its newline)."""
        data = (line + "\n").encode("utf-8")
        self._handle.write(data)
        self._digest.update(data)
        self.lines += 1

    def skip(self, reason: str) -> None:
        """Apply the skip policy to an item that produced no line: raise or log it."""
        if self.on_invalid == "error":
            raise InputError(reason)
        logger.warning("skipped: %s", reason)

    def complete(self, summary: dict[str, Any]) -> None:
        """Publish the results with ``summary`` (once, at the end), which names them.

        The new summary is written aside first and the old one removed before the results
        are renamed into place: a kill between any two steps leaves either the previous
        pair, results without a summary, or the new pair.
        """
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        summary = {
            **summary,
            "results": {
                "file": self.results.name,
                "lines": self.lines,
                "sha256": self._digest.hexdigest(),
            },
        }
        pending = self.summary.with_name(self.summary.name + ".tmp")
        _write_synced(pending, summary)
        self.summary.unlink(missing_ok=True)
        os.replace(self.partial, self.results)
        os.replace(pending, self.summary)
        _sync_dir(self.results.parent)
        self._summary = summary
        self._status = "complete"

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self._handle is not None and not self._handle.closed:
                self._handle.close()
            if self.store is not None:
                self.store.finish_run(self.run_id, self._status, self._summary)
        finally:
            self.lock.release()


async def grade_to_dir(
    grader: Grader,
    samples: SampleSource,
    out_dir: str | Path,
    *,
    on_invalid: OnInvalid = "error",
    config: dict[str, Any] | None = None,
    seed: int = 0,
    policy: PolicySampler | None = None,
    length_penalty: float | None = None,
    max_error_rate: float | None = None,
    checked: InputCheck | None = None,
) -> RunSummary:
    """Grade ``samples`` into ``out_dir`` (``results.jsonl``, ``summary.json``) and return the summary.

    ``samples`` is read twice, first to check it (``check_input``: a bad record costs no judge
    call), then to grade it; give a function returning a fresh iterator (a reader) or a
    collection. A one-shot iterator is checked as it is graded instead. ``checked`` is the
    caller's own pre-pass over the same samples (then it is not repeated).

    With ``on_invalid="error"`` the first bad record raises ``InputError``; with
    ``"skip"`` it is counted in ``counts.skipped_lines`` and its reason listed. ``policy``
    writes the responses samples lack, before they are graded. ``length_penalty`` adds
    HealthBench's length-adjusted score to the summary. summary.json gets ``status`` and
    ``failure`` from ``run_failure(summary, max_error_rate)``; the caller decides what a
    failure means (the CLI exits non-zero).
    """
    out = Path(out_dir)
    accumulator = RunAccumulator(length_penalty=length_penalty)
    respond = policy.respond if policy is not None else None
    make: Callable[[], Items]
    if callable(samples):
        make = samples
    else:
        collection = samples
        make = lambda: collection  # noqa: E731
    if checked is None:
        if callable(samples) or iter(samples) is not samples:
            check_input(make(), on_invalid=on_invalid, needs_response=policy is None)
        else:
            logger.info(
                "samples come from a one-shot iterator: each is checked when it is graded "
                "(pass a reader function or a list to check them all first)"
            )
    with RunWriter(
        out / "results.jsonl",
        out / "summary.json",
        store=grader.store,
        config=config,
        on_invalid=on_invalid,
    ) as run:
        try:
            async for item in grader.iter_grade(make(), respond=respond):
                if isinstance(item, SkippedSample):
                    run.skip(item.reason)
                    accumulator.skip(item.reason)
                    continue
                run.write(item.model_dump_json())
                accumulator.add(item)
        finally:
            if policy is not None:
                policy.flush()
        summary = accumulator.graded(grader, policy, elapsed_s=run.elapsed_s, seed=seed)
        failure = run_failure(summary, max_error_rate)
        run.complete({**summary.model_dump(mode="json"), **status_fields(failure, max_error_rate)})
    return summary
