"""Comparing into a run directory: pairs.jsonl (through ``.partial``) and summary.json."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from rubricate.backends import Judge
from rubricate.engine import Jury, run_sync
from rubricate.errors import InputError
from rubricate.pairwise._compare import CompareOptions, Comparer
from rubricate.pairwise._figures import FigureTally, MemberTally
from rubricate.pairwise._records import (
    CompareCounts,
    CompareSummary,
    JuryMemberSummary,
    JurySummary,
)
from rubricate.pairwise._types import Pair
from rubricate.runs import OnInvalid, RunWriter
from rubricate.store import Store
from rubricate.version import __version__

__all__ = ["compare_pairs", "compare_to_dir", "jury_summary"]


def jury_summary(comparer: Comparer, tally: FigureTally) -> JurySummary | None:
    """The summary's ``jury`` block (``None`` without a jury): agreement, members alone, calls."""
    if comparer.jury is None:
        return None
    agreement = tally.agreement
    members = []
    for seat in comparer.seats:
        fingerprint = seat.judge.fingerprint
        own = tally.members.get(fingerprint) or MemberTally()
        calls = seat.calls.counts
        members.append(
            JuryMemberSummary(
                **own.figures().model_dump(),
                judge=fingerprint,
                name=seat.name,
                weight=seat.weight,
                agreement_with_jury=agreement.agreement_with_jury(fingerprint),
                decided=agreement.decided(fingerprint),
                counts=CompareCounts.from_calls(
                    calls, error_pairs=own.error_pairs, criterion_errors=own.criterion_errors
                ),
                tokens=replace(calls.tokens),
            )
        )
    return JurySummary(
        rule=comparer.jury.rule,
        trials=agreement.items,
        fleiss_kappa=agreement.fleiss_kappa(),
        krippendorff_alpha=agreement.krippendorff_alpha(),
        members=members,
    )


_MAX_SKIP_REASONS = 20


async def compare_to_dir(
    comparer: Comparer,
    pairs: Iterable[Pair | InputError],
    out_dir: str | Path,
    *,
    on_invalid: OnInvalid = "error",
    config: dict[str, Any] | None = None,
) -> CompareSummary:
    """Compare ``pairs`` into ``out_dir`` (``pairs.jsonl``, ``summary.json``); return the summary.

    A bad input record (an ``InputError`` in ``pairs``) stops the run, or with
    ``on_invalid="skip"`` is counted in ``counts.skipped_lines``. A killed run leaves
    ``pairs.jsonl.partial``; running it again asks the judge only what it had not answered.
    """
    out = Path(out_dir)
    tally = FigureTally()
    skipped: list[str] = []
    n_skipped = 0

    def valid(items: Iterable[Pair | InputError], run: RunWriter) -> Iterable[Pair]:
        nonlocal n_skipped
        for item in items:
            if isinstance(item, InputError):
                run.skip(str(item))
                n_skipped += 1
                if len(skipped) < _MAX_SKIP_REASONS:
                    skipped.append(str(item))
                continue
            yield item

    run_config = {"stage": "compare", "options": repr(comparer.options), **(config or {})}
    if comparer.jury is not None:
        # A jury's run is another run than any single judge's (and than another jury's).
        run_config["jury"] = comparer.fingerprint
    with RunWriter(
        out / "pairs.jsonl",
        out / "summary.json",
        store=comparer.store,
        config=run_config,
        on_invalid=on_invalid,
    ) as run:
        try:
            async for line in comparer.iter_compare(valid(pairs, run)):
                run.write(line.model_dump_json())
                tally.add(line)
        finally:
            comparer.flush()
        figures = tally.figures()
        summary = CompareSummary(
            **figures.model_dump(),
            mode=tally.mode,
            orders=comparer.options.orders,
            by_source=tally.by_source(),
            counts=comparer.counts(tally, n_skipped),
            tokens=comparer.tokens(),
            rubric_generation=comparer.rubric_generation(),
            judge=comparer.fingerprint,
            templates=sorted(
                {comparer.template(m).version for m in tally.modes}  # type: ignore[arg-type]
            ),
            skipped=skipped,
            elapsed_s=run.elapsed_s,
            rubricate_version=__version__,
            jury=jury_summary(comparer, tally),
        )
        run.complete(summary.model_dump(mode="json"))
    return summary


def compare_pairs(
    pairs: Iterable[Pair | InputError],
    judge: Judge | Jury,
    out_dir: str | Path,
    *,
    store: Store | None = None,
    options: CompareOptions | None = None,
    concurrency: int = 16,
    reasks: int = 2,
    on_invalid: OnInvalid = "error",
) -> CompareSummary:
    """``compare_to_dir`` from synchronous code with a new ``Comparer`` (a judge or a jury)."""
    comparer = Comparer(judge, store=store, options=options, concurrency=concurrency, reasks=reasks)
    return run_sync(compare_to_dir(comparer, pairs, out_dir, on_invalid=on_invalid))
