"""Judge probes: grade altered samples through the public API and measure what the judge gives them.

Every probe but ``position`` grades altered samples through ``rubricate.api.grade_async``;
``position`` compares each response with a second answer (or itself) through
``rubricate.pairwise.Comparer`` in both orders. The CLI command ``rubricate probe`` builds
the judge from its options and calls ``run_probes`` / ``run_probes_async`` with (samples,
judge, out_dir, probes, mode, seed).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rubricate.api import grade_async
from rubricate.backends import Judge, close_judge
from rubricate.engine import run_sync
from rubricate.errors import ConfigError, InputError
from rubricate.judge import Mode
from rubricate.meta._stats import N_RESAMPLES, Estimate, paired_mean_difference
from rubricate.meta._variants import PROBES, PairKind, position_pair, probe_variants
from rubricate.pairwise import CompareOptions, Comparer, Decision, PairLine
from rubricate.results import Counts, SampleResult
from rubricate.store import Store, open_store
from rubricate.types import GRADABLE_LABELS, Sample

__all__ = [
    "ProbeOutcome",
    "ProbeReport",
    "fail_on_gain",
    "first_seat_preference",
    "run_probes",
    "run_probes_async",
]


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    """What one probe did to the scores.

    Attributes:
        gain: mean of (probe score - original score) over variant pairs, in score units,
            with a 95% interval that resamples samples (a sample's variants stay together).
            For ``position``: the mean first-seat preference of the pairs, in [-1, 1]
            (see ``first_seat_preference``).
        flipped: share of criterion verdicts (gradable on both sides) that changed. For
            ``position``: share of pairs whose two orders' decisions, mapped back to the
            original seats, differ.
        n: variant pairs with a score on both sides (``position``: pairs decided in both
            orders); ``n_samples`` the samples they came from.
        by_variant: the same per variant (per master key, per padding length, ...; for
            ``position`` per pair kind, ``identical`` or ``distinct``, with ``pairs`` formed).
        judge_calls: calls the probe's grading made (cache hits excluded).
        errors: criterion verdicts of the altered samples that are ``error`` (a failed call
            or an unparseable reply); such a verdict is left out of the flip share, and a
            sample it leaves unscored out of the gain. For ``position``: orders without a
            decision; a pair with one is left out of the gain and the flip share.
        baseline_errors: the same for the grading of the original samples this probe is
            compared with (shared by the probes of one mode, so not to be summed; 0 for
            ``position``, which grades no original).
    """

    gain: Estimate
    flipped: float | None
    n: int
    n_samples: int
    by_variant: dict[str, dict[str, Any]]
    judge_calls: int
    mode: str
    errors: int = 0
    baseline_errors: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "gain": self.gain.value,
            "ci95": list(self.gain.ci95) if self.gain.ci95 else None,
            "flipped": self.flipped,
            "n": self.n,
            "n_samples": self.n_samples,
            "mode": self.mode,
            "judge_calls": self.judge_calls,
            "errors": self.errors,
            "baseline_errors": self.baseline_errors,
            "by_variant": self.by_variant,
        }


@dataclass(frozen=True, slots=True)
class ProbeReport:
    """Every probe's outcome, in the order asked; ``as_dict`` is the content of probes.json."""

    probes: dict[str, ProbeOutcome]
    seed: int

    def as_dict(self) -> dict[str, Any]:
        return {name: outcome.as_dict() for name, outcome in self.probes.items()}


def fail_on_gain(report: ProbeReport, threshold: float) -> list[str]:
    """Probes whose whole gain interval lies above ``threshold`` (for CI gates)."""
    return [
        name
        for name, outcome in report.probes.items()
        if outcome.gain.ci95 is not None and outcome.gain.ci95[0] > threshold
    ]


_FIRST_SEAT: dict[Decision, float] = {"A>B": 1.0, "B>A": -1.0, "A=B": 0.0}


def first_seat_preference(decisions: Sequence[Decision]) -> float:
    """Mean preference for the response shown first over decisions in the judge's seats.

    A decision for the first seat counts +1, for the second -1, a tie 0: a judge that
    always picks the first seat scores 1, one that decides on content alone scores 0 over
    the two orders of a pair.
    """
    if not decisions:
        raise ValueError("no decisions to average")
    return sum(_FIRST_SEAT[d] for d in decisions) / len(decisions)


def _flips(original: SampleResult, probed: SampleResult) -> tuple[int, int]:
    """(changed, compared) verdicts matched by criterion id, gradable on both sides."""
    before = {r.criterion_id: r for r in original.verdicts if r.verdict in GRADABLE_LABELS}
    changed = compared = 0
    for record in probed.verdicts:
        first = before.get(record.criterion_id)
        if first is None or record.verdict not in GRADABLE_LABELS:
            continue
        compared += 1
        changed += (first.verdict, first.level) != (record.verdict, record.level)
    return changed, compared


def _outcome(
    baseline: dict[str, SampleResult],
    variants: Sequence[tuple[str, str, SampleResult]],
    graded: Counts,
    baseline_errors: int,
    mode: str,
    n_resamples: int,
    seed: int,
) -> ProbeOutcome:
    per_sample: dict[str, list[float]] = {}
    per_variant: dict[str, list[float]] = {}
    flips: dict[str, list[int]] = {}
    total_changed = total_compared = 0
    for original_id, variant, result in variants:
        original = baseline[original_id]
        changed, compared = _flips(original, result)
        total_changed += changed
        total_compared += compared
        counts = flips.setdefault(variant, [0, 0])
        counts[0] += changed
        counts[1] += compared
        if original.score is None or result.score is None:
            continue
        difference = result.score - original.score
        per_sample.setdefault(original_id, []).append(difference)
        per_variant.setdefault(variant, []).append(difference)
    gain = paired_mean_difference(
        [np.array(d) for d in per_sample.values()], n_resamples=n_resamples, seed=seed
    )
    by_variant = {
        variant: {
            "gain": float(np.mean(per_variant[variant])) if per_variant.get(variant) else None,
            "n": len(per_variant.get(variant, [])),
            "flipped": counts[0] / counts[1] if counts[1] else None,
        }
        for variant, counts in flips.items()
    }
    return ProbeOutcome(
        gain=gain,
        flipped=total_changed / total_compared if total_compared else None,
        n=sum(len(d) for d in per_sample.values()),
        n_samples=len(per_sample),
        by_variant=by_variant,
        judge_calls=graded.judge_calls,
        mode=mode,
        errors=graded.errors,
        baseline_errors=baseline_errors,
    )


async def _position_outcome(
    originals: Sequence[Sample],
    second_responses: Mapping[str, str],
    judge: Judge,
    store: Store | None,
    extra: Mapping[str, Any],
    n_resamples: int,
    seed: int,
) -> ProbeOutcome:
    """Each sample's position pair judged holistically in both orders (one call per order)."""
    built = [position_pair(s, second_responses.get(s.id)) for s in originals]
    comparer = Comparer(
        judge,
        store=store,
        # Holistic: one call per order, and meaningful on any prompt, rubric or not.
        options=CompareOptions(
            orders="both", mode="holistic", max_tokens=extra.get("max_tokens") or 128
        ),
        concurrency=extra.get("concurrency", 16),
        reasks=extra.get("reasks", 2),
    )
    try:
        lines: list[PairLine] = [
            line async for line in comparer.iter_compare(pair for _, pair in built)
        ]
    finally:
        comparer.flush()
    preferences: list[float] = []
    by_kind: dict[PairKind, list[float]] = {}
    flips: dict[PairKind, list[int]] = {}
    formed: dict[PairKind, int] = {}
    errors = 0
    for (kind, _), line in zip(built, lines, strict=True):
        formed[kind] = formed.get(kind, 0) + 1
        counts = flips.setdefault(kind, [0, 0])
        decided = [t.decision for t in line.judgments if t.decision is not None]
        errors += len(line.judgments) - len(decided)
        if len(decided) < len(line.judgments):
            continue
        preference = first_seat_preference(decided)
        preferences.append(preference)
        by_kind.setdefault(kind, []).append(preference)
        counts[0] += line.decisions[0] != line.decisions[1]
        counts[1] += 1
    gain = paired_mean_difference(
        [np.array([p]) for p in preferences], n_resamples=n_resamples, seed=seed
    )
    changed = sum(c[0] for c in flips.values())
    return ProbeOutcome(
        gain=gain,
        flipped=changed / len(preferences) if preferences else None,
        n=len(preferences),
        n_samples=len(preferences),
        by_variant={
            kind: {
                "gain": float(np.mean(by_kind[kind])) if by_kind.get(kind) else None,
                "n": len(by_kind.get(kind, [])),
                "flipped": counts[0] / counts[1] if counts[1] else None,
                "pairs": formed[kind],
            }
            for kind, counts in flips.items()
        },
        judge_calls=comparer.calls.counts.calls,
        mode="pairwise",
        errors=errors,
    )


def _checked_second_responses(
    second_responses: Mapping[str, str] | None, originals: Sequence[Sample]
) -> Mapping[str, str]:
    if second_responses is None:
        return {}
    ids = {s.id for s in originals}
    for sample_id, text in second_responses.items():
        if sample_id not in ids:
            raise InputError(
                "is not the id of a sample to probe", field=f"second response '{sample_id}'"
            )
        if not isinstance(text, str):
            raise InputError(
                f"expected text, got {type(text).__name__}",
                field=f"second response of sample '{sample_id}'",
            )
    return second_responses


async def run_probes_async(
    samples: Iterable[Sample | InputError],
    judge: Judge,
    out_dir: str | Path | None = None,
    *,
    probes: Sequence[str] | None = None,
    mode: Mode = "per-criterion",
    seed: int = 0,
    store: Store | str | Path | None = None,
    n_resamples: int = N_RESAMPLES,
    grade_options: Mapping[str, Any] | None = None,
    second_responses: Mapping[str, str] | None = None,
) -> ProbeReport:
    """Grade ``samples`` and their probe variants with ``judge``; write ``out_dir/probes.json``.

    Every grading goes through ``rubricate.api.grade_async``. ``store`` caches the original
    and altered samples and the ``position`` comparisons (so a re-run costs nothing);
    ``self_consistency`` always grades with the cache bypassed, since a cached answer would
    agree with itself. ``order`` grades in grouped mode, against a grouped grading of the
    original order. ``position`` compares each response holistically in both orders with
    its second response when that differs from it, else with itself (an identical pair,
    where any preference for a seat is position bias).

    Args:
        samples: samples with responses (an ``InputError`` a reader yielded is raised).
        judge: any ``Judge``.
        out_dir: where ``probes.json`` goes (``None``: not written).
        probes: names from ``PROBES`` (default: all).
        mode: grading mode of every probe but ``order``.
        seed: seeds the criterion shuffles and the bootstrap.
        store: cache for everything but ``self_consistency``.
        n_resamples: bootstrap resamples per interval.
        grade_options: further keyword options for every ``rubricate.api.grade_async`` call
            (``concurrency``, ``group_size``, ...); ``position`` takes ``concurrency``,
            ``reasks`` and ``max_tokens`` from them.
        second_responses: per sample id, a different answer to the same prompt (HealthBench:
            the ideal completion) for ``position`` to pair with the sample's response.
    """
    chosen = list(probes) if probes is not None else list(PROBES)
    unknown = [name for name in chosen if name not in PROBES]
    if unknown:
        raise ConfigError(f"unknown probe(s) {', '.join(unknown)} (known: {', '.join(PROBES)})")
    originals: list[Sample] = []
    for item in samples:
        if isinstance(item, InputError):
            raise item
        originals.append(item)
    if not originals:
        raise InputError("no samples to probe")
    ids = [s.id for s in originals]
    if len(set(ids)) != len(ids):
        raise InputError("sample ids repeat; probes pair each variant with its original by id")
    second = _checked_second_responses(second_responses, originals)
    # One connection for every probe, opened here when given a path.
    opened, owns_store = open_store(store)
    try:
        outcomes = await _run(
            chosen,
            originals,
            second,
            judge,
            opened,
            mode,
            seed,
            n_resamples,
            dict(grade_options or {}),
        )
    finally:
        if owns_store and opened is not None:
            opened.close()
    report = ProbeReport(outcomes, seed)
    if out_dir is not None:
        directory = Path(out_dir)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "probes.json").write_text(
            json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8"
        )
    return report


async def _run(
    chosen: Sequence[str],
    originals: list[Sample],
    second: Mapping[str, str],
    judge: Judge,
    store: Store | None,
    mode: Mode,
    seed: int,
    n_resamples: int,
    extra: dict[str, Any],
) -> dict[str, ProbeOutcome]:
    """Each chosen probe's outcome, in order; probes of one mode share the originals' grading."""
    baselines: dict[str, tuple[dict[str, SampleResult], int]] = {}

    async def baseline(probe_mode: Mode) -> tuple[dict[str, SampleResult], int]:
        """The originals graded in ``probe_mode``, by id, and their error verdicts."""
        if probe_mode not in baselines:
            graded = await grade_async(originals, judge, store=store, mode=probe_mode, **extra)
            results = {r.sample_id: r for r in graded.results}
            baselines[probe_mode] = (results, graded.summary.counts.errors)
        return baselines[probe_mode]

    outcomes: dict[str, ProbeOutcome] = {}
    for name in chosen:
        if name == "position":
            outcomes[name] = await _position_outcome(
                originals, second, judge, store, extra, n_resamples, seed
            )
            continue
        probe_mode: Mode = "grouped" if name == "order" else mode
        reference, reference_errors = await baseline(probe_mode)
        built = [
            (s.id, variant, altered)
            for s in originals
            for variant, altered in probe_variants(name, s, seed=seed)
        ]
        graded = await grade_async(
            [altered for _, _, altered in built],
            judge,
            store=None if name == "self_consistency" else store,
            mode=probe_mode,
            **extra,
        )
        by_id = {r.sample_id: r for r in graded.results}
        paired = [
            (original_id, variant, by_id[altered.id]) for original_id, variant, altered in built
        ]
        outcomes[name] = _outcome(
            reference,
            paired,
            graded.summary.counts,
            reference_errors,
            probe_mode,
            n_resamples,
            seed,
        )
    return outcomes


def run_probes(
    samples: Iterable[Sample | InputError],
    judge: Judge,
    out_dir: str | Path | None = None,
    **kwargs: Any,
) -> ProbeReport:
    """Synchronous ``run_probes_async``; the judge's connections are closed before it returns."""

    async def run() -> ProbeReport:
        try:
            return await run_probes_async(samples, judge, out_dir, **kwargs)
        finally:
            await close_judge(judge)

    return run_sync(run())
