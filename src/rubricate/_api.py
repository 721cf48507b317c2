"""The public entry points: ``grade`` / ``grade_async`` over samples, in memory or to a run directory."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rubricate.backends import Judge
from rubricate.engine import GradeOptions, Grader, PolicySampler, SkippedSample, run_sync
from rubricate.errors import InputError
from rubricate.results import RunSummary, SampleResult
from rubricate.runs import RunAccumulator
from rubricate.store import Store, open_store
from rubricate.types import Sample

__all__ = ["GradeResult", "grade", "grade_async"]


@dataclass(frozen=True)
class GradeResult:
    """Per-sample results in input order and the run summary."""

    results: list[SampleResult]
    summary: RunSummary


async def grade_async(
    samples: Iterable[Sample | InputError],
    judge: Judge,
    *,
    store: Store | str | Path | None = None,
    policy: Judge | None = None,
    skip_invalid: bool = False,
    seed: int = 0,
    **options: Any,
) -> GradeResult:
    """Grade ``samples`` with ``judge`` and score them.

    Args:
        samples: samples (or the ``InputError`` items a reader yields for bad records).
        judge: any ``Judge``; see ``rubricate.backends``.
        store: a ``Store`` or a path to its SQLite file; ``None`` disables the cache.
        policy: a judge-like model that writes missing responses.
        skip_invalid: count bad records instead of raising the first one.
        seed: bootstrap seed of the summary.
        **options: fields of ``GradeOptions`` (mode, group_size, method, soft, explain, ...).
    """
    opened, owned = open_store(store)
    grader = Grader(judge, store=opened, options=GradeOptions(**options))
    sampler = PolicySampler(policy, store=opened) if policy is not None else None
    accumulator = RunAccumulator()
    results: list[SampleResult] = []
    try:
        respond = sampler.respond if sampler is not None else None
        async for item in grader.iter_grade(samples, respond=respond):
            if isinstance(item, SkippedSample):
                if not skip_invalid:
                    raise InputError(item.reason)
                accumulator.skip(item.reason)
                continue
            results.append(item)
            accumulator.add(item)
    finally:
        if sampler is not None:
            sampler.flush()
        if owned and opened is not None:
            opened.close()
    summary = accumulator.graded(grader, sampler, seed=seed)
    return GradeResult(results, summary)


def grade(
    samples: Iterable[Sample | InputError],
    judge: Judge,
    **kwargs: Any,
) -> GradeResult:
    """Synchronous ``grade_async`` for scripts.

    The judge's connections belong to the event loop this call creates, so they are closed
    before it ends; the judge reconnects if used again.
    """

    async def run() -> GradeResult:
        try:
            return await grade_async(samples, judge, **kwargs)
        finally:
            await judge.aclose()

    return run_sync(run())
