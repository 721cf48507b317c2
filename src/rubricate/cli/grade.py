"""``rubricate grade`` and ``rubricate score``."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.markup import escape

from rubricate.cli._app import (
    EXIT_BACKEND,
    EXIT_ERROR_RATE,
    app,
    console,
    exit_on_error,
    setup_logging,
)
from rubricate.cli._bind import bind_settings
from rubricate.cli._data import (
    DataArgument,
    FieldOption,
    FormatOption,
    ResponsesOption,
    ResponseSourceOption,
    parse_fields,
    sample_reader,
)
from rubricate.cli._figures import describe
from rubricate.cli._options import (
    LimitOption,
    OnInvalid,
    OnInvalidOption,
    QuietOption,
    VerboseOption,
)
from rubricate.cli._render import GradeProgress, summary_table
from rubricate.errors import ConfigError, InputError
from rubricate.formats import read_responses
from rubricate.report import write_report
from rubricate.results import RunSummary
from rubricate.runs import (
    InputCheck,
    RunFailure,
    check_input,
    check_run_dir,
    grade_to_dir,
    rescore_results,
    results_digest,
    run_failure,
    stale_summary,
    status_fields,
    write_json,
)
from rubricate.session import Session
from rubricate.settings import Settings, setting_fields
from rubricate.types import Sample

GRADE_HELP = """Grade a dataset with an LLM judge and write a run directory.

Example (any OpenAI-compatible server):

    rubricate grade data.jsonl --judge-url http://127.0.0.1:8000/v1 --judge-model NAME --out runs/r1

With no --judge-url the embedded local judge (llama.cpp on the CPU) is used.
Re-running the same command costs no judge calls; a killed run resumes where it stopped.
Writes OUT/results.jsonl (one line per sample) and OUT/summary.json; with --keep-replies
each line also keeps the judge replies that decided its verdicts (raw_replies).
"""


def _amend_summary(path: Path, extra: dict[str, Any]) -> None:
    """Add top-level keys to a summary.json, replacing it in one rename."""
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(extra)
    write_json(path, data)


def _report_failure(failure: RunFailure, summary: RunSummary, results: Path) -> None:
    """Say why the run failed and exit with its code."""
    if failure.rule == "no_sample_scored":
        why = _first_error(results) or "see the warnings above"
        kind = "judge_down" if summary.counts.failed_calls else "no_sample_scored"
        console.print(
            f"[red]error[/] ({kind}): {escape(failure.message)}; the first: {escape(why)}",
            highlight=False,
        )
        raise typer.Exit(EXIT_BACKEND)
    console.print(f"[red]error[/] (max_error_rate): {escape(failure.message)}", highlight=False)
    raise typer.Exit(EXIT_ERROR_RATE)


@app.command(help=GRADE_HELP)
@bind_settings("judge", "policy")
def grade(
    data: DataArgument,
    out: Annotated[Path, typer.Option("--out", "-o", help="Run directory to write.")] = Path(
        "runs/latest"
    ),
    format: FormatOption = "auto",
    field: FieldOption = None,
    response_source: ResponseSourceOption = "field",
    responses: ResponsesOption = None,
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
    report: Annotated[
        bool, typer.Option("--report", help="Also write OUT/report.html (rubricate report).")
    ] = False,
    *,
    settings: Settings,
) -> None:
    setup_logging(verbose)
    with exit_on_error():
        fields = parse_fields(field)
        # Refuse a file or a directory another run is writing before reading anything.
        check_run_dir(out)
        make = sample_reader(
            data,
            format=format,
            fields=fields,
            response_source=response_source,
            responses=responses,
            limit=limit,
        )
        # The whole input, checked before a judge is built: a bad line costs no judge call.
        checked = check_input(
            make(), on_invalid=on_invalid, needs_response=not settings.policy.urls, source=str(data)
        )
        policy = settings.policy
        # How strict to be with the outcome changes nothing that is asked: not in the run id.
        unasked = {"cache", "no_cache", "max_error_rate"}
        if not settings.judge.keep_replies:
            unasked.add("keep_replies")  # so runs without replies keep the ids they had
        if settings.judge.layout == "response-first":
            unasked.add("layout")  # likewise for runs in the layout that was the only one
        config = {
            "data": str(data.resolve()),
            "format": format,
            "fields": fields,
            "response_source": response_source,
            "responses": str(responses) if responses else None,
            "policy": [policy.urls or None, policy.model],
            "settings": settings.judge.model_dump(mode="json", exclude=unasked),
            "limit": limit,
            "out": str(out.resolve()),
        }
        max_error_rate = settings.judge.max_error_rate
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
                config=config,
            )
        else:
            summary = asyncio.run(
                _grade(settings, make, checked, out, config, on_invalid, seed, quiet)
            )
        failure = run_failure(summary, max_error_rate)
        _amend_summary(out / "summary.json", status_fields(failure, max_error_rate))
        console.print(summary_table(summary, title=f"rubricate — {out}"))
        for line in describe(summary):
            console.print(line, highlight=False)
        console.print(f"wrote {out / 'results.jsonl'} and {out / 'summary.json'}", highlight=False)
        if report:
            page = write_report([out], out / "report.html", seed=seed, samples=make())
            console.print(f"wrote {page}", highlight=False)
        if failure is not None:
            _report_failure(failure, summary, out / "results.jsonl")


def _first_error(results: Path, *, lines: int = 100) -> str | None:
    """The explanation of the first ``error`` verdict among the first ``lines`` results."""
    try:
        with results.open(encoding="utf-8") as handle:
            for line in itertools.islice(handle, lines):
                for verdict in json.loads(line).get("verdicts") or ():
                    if verdict.get("verdict") == "error" and verdict.get("explanation"):
                        return str(verdict["explanation"])[:400]
    except (OSError, ValueError, AttributeError):
        return None
    return None


async def _grade(
    settings: Settings,
    samples: Callable[[], Iterator[Sample | InputError]],
    checked: InputCheck,
    out: Path,
    config: dict[str, Any],
    on_invalid: OnInvalid,
    seed: int,
    quiet: bool,
) -> RunSummary:
    async with Session(settings) as session:
        grader = session.grader
        with GradeProgress(console, checked.criteria, enabled=not quiet) as progress:
            grader.on_progress = progress.update
            summary = await grade_to_dir(
                grader,
                samples,
                out,
                on_invalid=on_invalid,
                config=config,
                seed=seed,
                policy=session.sampler,
                length_penalty=settings.judge.length_penalty,
                max_error_rate=settings.judge.max_error_rate,
                checked=checked,
            )
            progress.finish(grader)
        return summary


SCORE_HELP = """Recompute scores from stored verdicts (no judge calls) and write a summary.

Example:

    rubricate score runs/r1/results.jsonl --method normalized --out runs/r1/summary-normalized.json

Reads results.jsonl files (also ones edited by hand). A sample appearing twice is an error:
results of different runs are never mixed in one score.
"""


# `score` takes one setting, the failure rule it shares with `grade`.
_SCORE_EXCLUDES = {
    f.path for f in setting_fields() if f.group == "judge" and f.name != "max_error_rate"
}


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False


def _refuse_overwriting(results: list[Path], **targets: Path | None) -> None:
    """``score`` reads ``results`` while it writes its targets: one of them being an input
    would truncate it before it is read."""
    for flag, target in targets.items():
        if target is None:
            continue
        for path in results:
            if _same_file(target, path) or target.resolve() == path.resolve():
                raise ConfigError(
                    f"--{flag.replace('_', '-')} {target} is an input of this command ({path}): "
                    "writing it would destroy the results it re-scores; write elsewhere"
                )


@app.command(help=SCORE_HELP)
@bind_settings("judge", exclude=_SCORE_EXCLUDES)
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
    length_penalty: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Also report HealthBench's length-adjusted score: score - PENALTY x "
            "(response characters - 2000) / 500; lengths as recorded when graded, else "
            "from --responses.",
        ),
    ] = None,
    responses: Annotated[
        Path | None,
        typer.Option(
            help="JSONL of {sample_id, response}: the graded responses, for the lengths of "
            "lines that do not record theirs."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No score table: only warnings and errors.")
    ] = False,
    verbose: VerboseOption = False,
    *,
    settings: Settings,
) -> None:
    setup_logging(verbose)
    with exit_on_error():
        _refuse_overwriting(results, write_results=write_results, out=out)
        lengths = (
            {key: len(text) for key, text in read_responses(responses).items()}
            if responses is not None
            else {}
        )
        summary, edited = rescore_results(
            results,
            method=method,
            soft=soft,
            seed=seed,
            write_to=write_results,
            length_penalty=length_penalty,
            lengths=lengths,
        )
        target = out or results[0].parent / "summary.json"
        previous: dict[str, Any] = {}
        if target.exists():
            try:
                previous = json.loads(target.read_text(encoding="utf-8"))
            except ValueError:
                previous = {}
            if not isinstance(previous, dict) or not isinstance(previous.get("counts", {}), dict):
                console.print(
                    f"[yellow]{target} is not a summary[/]: it is replaced", highlight=False
                )
                previous = {}
            stale = stale_summary(previous, results[0]) if len(results) == 1 else None
            if stale is not None:
                # A run killed while publishing, or results copied over: its calls and
                # tokens belong to other results.
                console.print(
                    f"[yellow]{target} is stale[/]: {escape(stale)}; its calls and tokens "
                    "are not carried over",
                    highlight=False,
                )
                previous = {}
        data = summary.model_dump(mode="json")
        # Calls and tokens belong to the grading run; keep them when re-scoring its summary.
        for key in (
            "judge_calls",
            "cache_hits",
            "failed_calls",
            "unparseable_replies",
            "reasked",
            "deduplicated",
            "policy_calls",
            "policy_cache_hits",
            "skipped_lines",
        ):
            if key in previous.get("counts", {}):
                data["counts"][key] = previous["counts"][key]
        # Every score and figure is recomputed; what the judge and policy did is kept.
        for key in ("tokens", "policy_tokens", "judge", "template", "elapsed_s"):
            if key in previous:
                data[key] = previous[key]
        if len(results) == 1:
            data["results"] = results_digest(results[0])
        max_error_rate = settings.judge.max_error_rate
        failure = run_failure(summary, max_error_rate)
        data.update(status_fields(failure, max_error_rate))
        target.parent.mkdir(parents=True, exist_ok=True)
        write_json(target, data)
        if not quiet:
            console.print(summary_table(summary, title="rubricate score"))
            for line in describe(summary):
                console.print(line, highlight=False)
        if edited:
            console.print(
                f"[yellow]{edited} line(s) were edited since grading[/]: their rubric fingerprint was recomputed"
            )
        if not quiet:
            console.print(f"wrote {target}", highlight=False)
        if failure is not None:
            code = EXIT_BACKEND if failure.rule == "no_sample_scored" else EXIT_ERROR_RATE
            console.print(f"[red]error[/] ({failure.rule}): {escape(failure.message)}")
            raise typer.Exit(code)
