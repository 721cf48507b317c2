"""Whole runs: grade a stream into a run directory, re-score stored results, summaries.

A run directory holds ``results.jsonl`` (one line per sample, input order) and
``summary.json``. Results are written to ``results.jsonl.partial`` and renamed when the
run completes, so a killed run never leaves a file that looks finished.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rubricate.engine import Grader, SkippedSample
from rubricate.errors import InputError
from rubricate.results import Counts, RunSummary, SampleResult, Tokens
from rubricate.rubric import Criterion, Rubric, Scale
from rubricate.scoring import Method, SampleScore, score_sample, summarize
from rubricate.types import Verdict
from rubricate.version import __version__

__all__ = [
    "OnInvalid",
    "RunAccumulator",
    "grade_to_dir",
    "read_results",
    "rescore_results",
    "result_rubric",
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

    def add(self, result: SampleResult) -> None:
        self.scores.append(result.score)
        for axis, value in result.axes.items():
            self.axes.setdefault(axis, []).append(value)

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
        judge: str = "",
        template: str = "",
        elapsed_s: float | None = None,
        seed: int = 0,
        n_bootstrap: int = 1000,
    ) -> RunSummary:
        run = summarize(self.scores, self.axes, n_bootstrap=n_bootstrap, seed=seed)
        counts = counts.model_copy(update={"skipped_lines": self.n_skipped})
        return RunSummary(
            score=run.score,
            bootstrap_std=run.bootstrap_std,
            ci95=run.ci95,
            n_samples=run.n_samples,
            n_scored=run.n_scored,
            method=method,
            axes=run.axes,
            counts=counts,
            tokens=tokens,
            judge=judge,
            template=template,
            skipped=self.skipped,
            elapsed_s=elapsed_s,
            rubricate_version=__version__,
        )


def run_id_for(config: dict[str, Any]) -> str:
    """Journal id of a run: the hash of what the command asked for."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


async def grade_to_dir(
    grader: Grader,
    samples: Iterable[Any],
    out_dir: str | Path,
    *,
    on_invalid: OnInvalid = "error",
    config: dict[str, Any] | None = None,
    seed: int = 0,
) -> RunSummary:
    """Grade ``samples`` into ``out_dir`` and return the summary.

    With ``on_invalid="error"`` the first bad record raises ``InputError``; with
    ``"skip"`` it is counted in ``counts.skipped_lines`` and its reason listed.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    partial = out / "results.jsonl.partial"
    final = out / "results.jsonl"
    run_id = run_id_for(config or {})
    store = grader.store
    if store is not None:
        record = store.start_run(run_id, config or {})
        if record.attempts > 1:
            logger.info("resuming run %s (attempt %d)", run_id, record.attempts)
    accumulator = RunAccumulator()
    started = time.perf_counter()
    status = "failed"
    try:
        with open(partial, "w", encoding="utf-8") as handle:
            async for item in grader.iter_grade(samples):
                if isinstance(item, SkippedSample):
                    if on_invalid == "error":
                        raise InputError(item.reason)
                    logger.warning("skipped: %s", item.reason)
                    accumulator.skip(item.reason)
                    continue
                handle.write(item.model_dump_json() + "\n")
                accumulator.add(item)
        os.replace(partial, final)
        summary = accumulator.summary(
            method=grader.options.method,
            counts=grader.counts.snapshot(),
            tokens=grader.tokens.snapshot(),
            judge=grader.judge.fingerprint,
            template=grader.template.version,
            elapsed_s=time.perf_counter() - started,
            seed=seed,
        )
        write_json(out / "summary.json", summary.model_dump(mode="json"))
        status = "complete"
        return summary
    finally:
        if store is not None:
            store.finish_run(run_id, status, None)


# --- re-scoring stored results ------------------------------------------------


def result_rubric(result: SampleResult) -> Rubric:
    """The rubric a results line was graded with, rebuilt from its verdict records."""
    return Rubric(
        id=result.rubric_id,
        gate_floor=result.gate_floor,
        criteria=tuple(
            Criterion(
                id=r.criterion_id,
                text=r.criterion,
                points=r.points,
                tags=tuple(r.tags),
                required=r.required,
                scale=r.scale or Scale(),
            )
            for r in result.verdicts
        ),
    )


def read_results(path: str | Path) -> Iterator[tuple[int, SampleResult]]:
    """(line number, result) per line of a results.jsonl; ``InputError`` names a bad line."""
    from pydantic import ValidationError

    name = str(path)
    try:
        handle = open(path, "rb")  # noqa: SIM115 - bytes: the JSON parser reports bad UTF-8
    except OSError as error:
        raise InputError(f"cannot open: {error.strerror}", file=name) from error
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, SampleResult.model_validate_json(line)
            except ValidationError as error:
                first = error.errors()[0]
                location = ".".join(str(p) for p in first["loc"]) or None
                raise InputError(first["msg"], file=name, line=number, field=location) from error


def rescore_results(
    paths: Iterable[str | Path],
    *,
    method: Method | None = None,
    soft: bool = False,
    seed: int = 0,
    write_to: str | Path | None = None,
) -> tuple[RunSummary, int]:
    """Recompute every score from stored verdicts, with no judge call.

    Returns the summary and how many lines were edited by hand (their rubric no longer
    matches the recorded fingerprint; the new fingerprint is written). A sample id seen
    twice raises ``InputError``: one score never mixes lines of different runs. With
    ``write_to`` the re-scored lines are streamed to that file.
    """
    accumulator = RunAccumulator()
    counts = Counts()
    seen: dict[str, str] = {}
    edited = 0
    chosen: str | None = method
    out = open(write_to, "w", encoding="utf-8") if write_to is not None else None  # noqa: SIM115
    try:
        for path in paths:
            for number, result in read_results(path):
                rubric = result_rubric(result)
                if rubric.fingerprint != result.rubric_fingerprint:
                    edited += 1
                if result.sample_id in seen:
                    raise InputError(
                        f"sample '{result.sample_id}' appears again (first at {seen[result.sample_id]}); "
                        "results of different runs are never mixed in one score",
                        file=str(path),
                        line=number,
                        field="sample_id",
                    )
                seen[result.sample_id] = f"{path}:{number}"
                chosen = chosen or result.method
                verdicts = {
                    r.criterion_id: Verdict(
                        r.criterion_id, r.verdict, r.probability, r.level, r.explanation
                    )
                    for r in result.verdicts
                }
                scored: SampleScore = score_sample(rubric, verdicts, method=chosen, soft=soft)  # type: ignore[arg-type]
                counts.criteria += scored.n_criteria
                counts.errors += scored.n_errors
                counts.cannot_assess += scored.n_cannot_assess
                counts.gate_failed += 1 if scored.gate_failed else 0
                updated = result.model_copy(
                    update={
                        "score": scored.score,
                        "axes": scored.axes,
                        "gate_failed": list(scored.gate_failed),
                        "method": chosen,
                        "rubric_fingerprint": rubric.fingerprint,
                    }
                )
                accumulator.add(updated)
                if out is not None:
                    out.write(updated.model_dump_json() + "\n")
    finally:
        if out is not None:
            out.close()
    summary = accumulator.summary(
        method=chosen or "healthbench", counts=counts, tokens=Tokens(), seed=seed
    )
    return summary, edited
