"""Re-scoring stored results: every score recomputed from the verdicts a run wrote."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import ValidationError

from rubricate.errors import InputError
from rubricate.results import Counts, RunSummary, SampleResult, Tokens
from rubricate.rubric import Criterion, Rubric, Scale
from rubricate.runs._writer import RunAccumulator
from rubricate.scoring import Method, SampleScore, score_sample
from rubricate.types import Verdict

__all__ = ["read_results", "rescore_results", "result_rubric"]


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
    """(line number, result) per line of a results.jsonl; ``InputError`` names a bad line.

    Lines go straight to pydantic's JSON parser (not ``formats.iter_jsonl``): it rejects
    NaN, Infinity and bad UTF-8 and names the field that holds them (``verdicts.0.points``).
    """
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
                counts.add_scored(
                    scored.n_criteria,
                    scored.n_errors,
                    scored.n_cannot_assess,
                    bool(scored.gate_failed),
                )
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
