"""Re-scoring stored results: every score recomputed from the verdicts a run wrote."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from pydantic import ValidationError

from rubricate.engine import evidence_support
from rubricate.errors import InputError
from rubricate.results import RESPONSE_CHARS, Counts, RunSummary, SampleResult, Tokens
from rubricate.rubric import Criterion, Rubric, Scale
from rubricate.runs._writer import RunAccumulator
from rubricate.scoring import Method, SampleScore, score_sample
from rubricate.types import Verdict

__all__ = ["read_results", "rescore_results", "result_rubric"]


def result_rubric(result: SampleResult) -> Rubric:
    """The rubric a results line was graded with, rebuilt from its verdict records (with its
    native scoring scheme, so native scores are recomputed too)."""
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
        metadata={"native": result.native_scheme} if result.native_scheme is not None else {},
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
    length_penalty: float | None = None,
    lengths: Mapping[str, int] | None = None,
) -> tuple[RunSummary, int]:
    """Recompute every score and the whole summary from stored verdicts, with no judge call.

    The same functions as grading compute it (``score_sample``, ``RunAccumulator``): sample
    and axis scores, clusters, native scores, themes, the evidence counts
    (``engine.evidence_support``), the judge and template when every line names the same,
    and, with ``length_penalty``, the length-adjusted score from each line's
    ``metadata.response_chars`` (or, for a line without it, ``lengths[sample_id]``, e.g.
    from the graded responses file; the re-scored line then records it). The judge's calls
    and tokens are not on the lines: ``rubricate score`` keeps them from the old summary.

    Returns the summary and how many lines were edited by hand (their rubric no longer
    matches the recorded fingerprint; the new fingerprint is written). A sample id seen
    twice raises ``InputError``: one score never mixes lines of different runs. With
    ``write_to`` the re-scored lines are streamed to that file.
    """
    accumulator = RunAccumulator(length_penalty=length_penalty)
    counts = Counts()
    seen: dict[str, str] = {}
    edited = 0
    chosen: str | None = method
    judges: set[str] = set()
    templates: set[str] = set()
    out = open(write_to, "w", encoding="utf-8") if write_to is not None else None  # noqa: SIM115
    try:
        for path in paths:
            for number, result in read_results(path):
                if result.sample_id in seen:
                    raise InputError(
                        f"sample '{result.sample_id}' appears again (first at {seen[result.sample_id]}); "
                        "results of different runs are never mixed in one score",
                        file=str(path),
                        line=number,
                        field="sample_id",
                    )
                seen[result.sample_id] = f"{path}:{number}"
                judges.add(result.judge)
                templates.add(result.template)
                chosen = chosen or result.method
                try:
                    updated, scored = _rescored(result, chosen, soft, length_penalty, lengths)
                    accumulator.add(updated)
                except InputError as error:
                    raise InputError(
                        error.reason, file=str(path), line=number, field=error.field
                    ) from error
                counts.add_scored(
                    scored.n_criteria,
                    scored.n_errors,
                    scored.n_cannot_assess,
                    bool(scored.gate_failed),
                )
                for record in updated.verdicts:
                    counts.add_evidence(evidence_support(record))
                edited += updated.rubric_fingerprint != result.rubric_fingerprint
                if out is not None:
                    out.write(updated.model_dump_json() + "\n")
    finally:
        if out is not None:
            out.close()
    # Each line names its judge and template; lines of several name none for the run.
    summary = accumulator.summary(
        method=chosen or "healthbench",
        counts=counts,
        tokens=Tokens(),
        seed=seed,
        judge=judges.pop() if len(judges) == 1 else "",
        template=templates.pop() if len(templates) == 1 else "",
    )
    return summary, edited


def _rescored(
    result: SampleResult,
    method: str,
    soft: bool,
    length_penalty: float | None,
    lengths: Mapping[str, int] | None,
) -> tuple[SampleResult, SampleScore]:
    """The line with every score recomputed, and its scores."""
    rubric = result_rubric(result)
    verdicts = {
        r.criterion_id: Verdict(r.criterion_id, r.verdict, r.probability, r.level, r.explanation)
        for r in result.verdicts
    }
    try:
        scored: SampleScore = score_sample(rubric, verdicts, method=method, soft=soft)  # type: ignore[arg-type]
    except ValueError as error:  # an unknown native scheme
        raise InputError(str(error), field="native_scheme") from error
    example_tags = result.metadata.get("example_tags")
    if example_tags is not None and not (
        isinstance(example_tags, list) and all(isinstance(t, str) for t in example_tags)
    ):
        raise InputError("example tags must be a list of strings", field="metadata.example_tags")
    metadata = result.metadata
    if length_penalty is not None and RESPONSE_CHARS not in metadata:
        known = (lengths or {}).get(result.sample_id)
        if known is not None:
            metadata = {**metadata, RESPONSE_CHARS: known}
        elif scored.score is not None:
            raise InputError(
                f"no response length for sample '{result.sample_id}': grade it again, or "
                "pass the graded responses (rubricate score --responses FILE)",
                field=f"metadata.{RESPONSE_CHARS}",
            )
    native = scored.native
    updated = result.model_copy(
        update={
            "score": scored.score,
            "axes": scored.axes,
            "clusters": scored.clusters,
            "gate_failed": list(scored.gate_failed),
            "native_score": native.score if native is not None else None,
            "native": native.parts if native is not None else {},
            "method": method,
            "rubric_fingerprint": rubric.fingerprint,
            "metadata": metadata,
        }
    )
    return updated, scored
