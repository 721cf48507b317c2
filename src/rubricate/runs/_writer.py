"""The one run writer: grading, rubric generation and Ray runs all write through ``RunWriter``.

A run writes its lines to ``<results>.partial`` and renames the file when the run completes,
so a killed run never leaves a file that looks finished; the summary is written once, at the
end; with a store, the run is journalled under the hash of what was asked for, so a repeated
command is recorded as a resumed attempt (its finished calls come from the cache).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from rubricate.engine import Grader, PolicySampler, SkippedSample
from rubricate.errors import ConfigError, InputError
from rubricate.jury import AgreementTally
from rubricate.results import Counts, JuryVoteRecord, RunSummary, SampleResult, Tokens
from rubricate.scoring import summarize
from rubricate.store import Store
from rubricate.version import __version__

__all__ = [
    "OnInvalid",
    "RunAccumulator",
    "RunWriter",
    "grade_to_dir",
    "jury_agreement",
    "run_id_for",
    "write_json",
]

logger = logging.getLogger(__name__)

OnInvalid = Literal["error", "skip"]
_MAX_SKIP_REASONS = 20


@dataclass
class RunAccumulator:
    """Collects per-sample scores for the run summary (floats only: flat memory per sample)."""

    scores: list[float | None] = field(default_factory=list)
    axes: dict[str, list[float | None]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    n_skipped: int = 0
    # A jury's agreement figures, tallied per criterion as results arrive (flat memory).
    jury: AgreementTally = field(default_factory=AgreementTally)

    def add(self, result: SampleResult) -> None:
        self.scores.append(result.score)
        for axis, value in result.axes.items():
            self.axes.setdefault(axis, []).append(value)
        for record in result.verdicts:
            if record.jury:
                members = {vote.judge: _category(vote) for vote in record.jury}
                self.jury.add(members, _category(record))

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


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON through a temporary file, so a reader never sees half of it."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


class RunWriter:
    """Lines to ``results`` (through ``.partial``), the summary once, the journal entry.

    Use as a context manager; call ``complete`` when every line is written. Leaving the
    block without it (an error, an interrupt) keeps the ``.partial`` file and journals the
    attempt as failed.

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
        self._handle: Any = None
        self._status = "failed"
        self._summary: dict[str, Any] | None = None

    def __enter__(self) -> RunWriter:
        self.results.parent.mkdir(parents=True, exist_ok=True)
        if self.store is not None:
            record = self.store.start_run(self.run_id, self.config)
            if record.attempts > 1:
                logger.info("resuming run %s (attempt %d)", self.run_id, record.attempts)
        self._handle = open(self.partial, "w", encoding="utf-8")
        return self

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self.started

    def write(self, line: str) -> None:
        """One result line (without its newline)."""
        self._handle.write(line + "\n")

    def skip(self, reason: str) -> None:
        """Apply the skip policy to an item that produced no line: raise or log it."""
        if self.on_invalid == "error":
            raise InputError(reason)
        logger.warning("skipped: %s", reason)

    def complete(self, summary: dict[str, Any]) -> None:
        """Rename the results into place and write ``summary`` (once, at the end)."""
        self._handle.close()
        os.replace(self.partial, self.results)
        write_json(self.summary, summary)
        self._summary = summary
        self._status = "complete"

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._handle is not None and not self._handle.closed:
            self._handle.close()
        if self.store is not None:
            self.store.finish_run(self.run_id, self._status, self._summary)


async def grade_to_dir(
    grader: Grader,
    samples: Iterable[Any],
    out_dir: str | Path,
    *,
    on_invalid: OnInvalid = "error",
    config: dict[str, Any] | None = None,
    seed: int = 0,
    policy: PolicySampler | None = None,
) -> RunSummary:
    """Grade ``samples`` into ``out_dir`` (``results.jsonl``, ``summary.json``) and return the summary.

    With ``on_invalid="error"`` the first bad record raises ``InputError``; with
    ``"skip"`` it is counted in ``counts.skipped_lines`` and its reason listed. ``policy``
    writes the responses samples lack, before they are graded.
    """
    out = Path(out_dir)
    accumulator = RunAccumulator()
    respond = policy.respond if policy is not None else None
    with RunWriter(
        out / "results.jsonl",
        out / "summary.json",
        store=grader.store,
        config=config,
        on_invalid=on_invalid,
    ) as run:
        try:
            async for item in grader.iter_grade(samples, respond=respond):
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
        run.complete(summary.model_dump(mode="json"))
    return summary
