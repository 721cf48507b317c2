"""``rubricate grade`` and ``rubricate score``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from rubricate.cli._app import EXIT_BACKEND, app, console, exit_on_error, setup_logging
from rubricate.cli._bind import bind_settings
from rubricate.cli._options import (
    LimitOption,
    OnInvalid,
    OnInvalidOption,
    QuietOption,
    VerboseOption,
)
from rubricate.cli._render import GradeProgress, summary_table
from rubricate.errors import ConfigError, InputError
from rubricate.formats import Format, read_responses, read_samples
from rubricate.results import RunSummary
from rubricate.runs import grade_to_dir, rescore_results
from rubricate.session import Session
from rubricate.settings import Settings
from rubricate.types import Sample

GRADE_HELP = """Grade a dataset with an LLM judge and write a run directory.

Example (any OpenAI-compatible server):

    rubricate grade data.jsonl --judge-url http://127.0.0.1:8000/v1 --judge-model NAME --out runs/r1

With no --judge-url the embedded local judge (llama.cpp on the CPU) is used.
Re-running the same command costs no judge calls; a killed run resumes where it stopped.
Writes OUT/results.jsonl (one line per sample) and OUT/summary.json.
"""


def parse_fields(values: list[str] | None) -> dict[str, str] | None:
    """``--field rubric=reward_model.rubrics`` pairs as a mapping."""
    if not values:
        return None
    mapping: dict[str, str] = {}
    for value in values:
        key, sep, path = value.partition("=")
        if not sep or key not in ("id", "prompt", "response", "rubric") or not path:
            raise ConfigError(
                f"--field '{value}': expected TARGET=PATH with TARGET one of id, prompt, response, rubric"
            )
        mapping[key] = path
    return mapping


Items = Iterator[Sample | InputError]


def _with_responses(items: Items, responses: dict[str, str], path: Path) -> Items:
    for item in items:
        if isinstance(item, Sample):
            text = responses.get(item.id)
            if text is None:
                yield InputError(
                    f"no response for sample '{item.id}'", file=str(path), field="sample_id"
                )
                continue
            item = item.with_response(text)
        yield item


def _limited(items: Items, limit: int | None) -> Items:
    if limit is None:
        yield from items
        return
    graded = 0
    for item in items:
        if graded >= limit:
            return
        if isinstance(item, Sample):
            graded += 1
        yield item


def _count_criteria(make: Callable[[], Items]) -> int:
    total = 0
    for item in make():
        if isinstance(item, Sample):
            total += len(item.rubric.criteria)
    return total


@app.command(help=GRADE_HELP)
@bind_settings("judge", "policy")
def grade(
    data: Annotated[
        Path,
        typer.Argument(help="HealthBench JSONL, verl parquet, or JSONL with --field mappings."),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run directory to write.")] = Path(
        "runs/latest"
    ),
    format: Annotated[Format, typer.Option(help="auto, healthbench, verl or jsonl.")] = "auto",
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            help="TARGET=PATH mapping for generic JSONL (id, prompt, response, rubric); repeatable.",
        ),
    ] = None,
    response_source: Annotated[
        Literal["field", "ideal"],
        typer.Option(
            help="HealthBench: 'field' (the line's response) or 'ideal' (the physician-written completion)."
        ),
    ] = "field",
    responses: Annotated[
        Path | None, typer.Option(help="JSONL of {sample_id, response} to grade instead.")
    ] = None,
    on_invalid: OnInvalidOption = "error",
    limit: LimitOption = None,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            help="Grade on a Ray cluster: 'auto' (running cluster), 'local' or ray://HOST:PORT.",
        ),
    ] = None,
    ray_workers: Annotated[
        int | None,
        typer.Option(help="Grading actors on Ray (default: one per CPU, at most 8)."),
    ] = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
    *,
    settings: Settings,
) -> None:
    setup_logging(verbose)
    with exit_on_error():
        fields = parse_fields(field)
        answer_file = read_responses(responses) if responses is not None else None

        def make() -> Iterator[Sample | InputError]:
            items = read_samples(
                data, format=format, fields=fields, response_source=response_source
            )
            if answer_file is not None and responses is not None:
                items = _with_responses(items, answer_file, responses)
            return _limited(items, limit)

        total = _count_criteria(make) if not quiet else None
        policy = settings.policy
        config = {
            "data": str(data.resolve()),
            "format": format,
            "fields": fields,
            "response_source": response_source,
            "responses": str(responses) if responses else None,
            "policy": [policy.urls or None, policy.model],
            "settings": settings.judge.model_dump(mode="json", exclude={"cache", "no_cache"}),
            "limit": limit,
            "out": str(out.resolve()),
        }
        if ray is not None:
            from rubricate.distributed import check_ray_options, grade_on_ray

            check_ray_options(policy.urls or None)
            summary = grade_on_ray(
                make(),
                settings.judge,
                out,
                address=ray,
                workers=ray_workers,
                on_invalid=on_invalid,
                seed=seed,
            )
        else:
            run = _grade(settings, make(), out, config, on_invalid, seed, total, quiet)
            summary = asyncio.run(run)
        console.print(summary_table(summary, title=f"rubricate — {out}"))
        console.print(f"wrote {out / 'results.jsonl'} and {out / 'summary.json'}", highlight=False)
        if summary.counts.criteria and summary.counts.failed_calls and summary.n_scored == 0:
            raise typer.Exit(EXIT_BACKEND)


async def _grade(
    settings: Settings,
    samples: Iterator[Sample | InputError],
    out: Path,
    config: dict[str, Any],
    on_invalid: OnInvalid,
    seed: int,
    total: int | None,
    quiet: bool,
) -> RunSummary:
    async with Session(settings) as session:
        grader = session.grader
        with GradeProgress(console, total, enabled=not quiet) as progress:
            grader.on_progress = progress.update
            summary = await grade_to_dir(
                grader, samples, out, on_invalid=on_invalid, config=config, seed=seed
            )
            progress.finish(grader)
        return summary


SCORE_HELP = """Recompute scores from stored verdicts (no judge calls) and write a summary.

Example:

    rubricate score runs/r1/results.jsonl --method normalized --out runs/r1/summary-normalized.json

Reads results.jsonl files (also ones edited by hand). A sample appearing twice is an error:
results of different runs are never mixed in one score.
"""


@app.command(help=SCORE_HELP)
def score(
    results: Annotated[list[Path], typer.Argument(help="One or more results.jsonl files.")],
    method: Annotated[
        Literal["healthbench", "normalized", "weighted_mean"] | None,
        typer.Option(help="healthbench, normalized or weighted_mean (default: as recorded)."),
    ] = None,
    soft: Annotated[
        bool, typer.Option("--soft", help="Score with recorded P(met) where known.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Summary file to write (default: summary.json beside the first results file).",
        ),
    ] = None,
    write_results: Annotated[
        Path | None, typer.Option(help="Also write the re-scored lines here.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    setup_logging(verbose)
    with exit_on_error():
        summary, edited = rescore_results(
            results,
            method=method,
            soft=soft,
            seed=seed,
            write_to=write_results,
        )
        target = out or results[0].parent / "summary.json"
        previous: dict[str, Any] = {}
        if target.exists():
            try:
                previous = json.loads(target.read_text(encoding="utf-8"))
            except ValueError:
                previous = {}
        data = summary.model_dump(mode="json")
        # Calls and tokens belong to the grading run; keep them when re-scoring its summary.
        for key in (
            "judge_calls",
            "cache_hits",
            "failed_calls",
            "unparseable_replies",
            "reasked",
            "skipped_lines",
        ):
            if key in previous.get("counts", {}):
                data["counts"][key] = previous["counts"][key]
        for key in ("tokens", "judge", "template", "elapsed_s"):
            if key in previous:
                data[key] = previous[key]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        console.print(summary_table(summary, title="rubricate score"))
        if edited:
            console.print(
                f"[yellow]{edited} line(s) were edited since grading[/]: their rubric fingerprint was recomputed"
            )
        console.print(f"wrote {target}", highlight=False)
