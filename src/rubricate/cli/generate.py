"""``rubricate generate``: write rubrics (from-prompt, contrastive, refine, retrieve, nuggets)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from rubricate.cli._app import app, console, exit_on_error, setup_logging
from rubricate.cli._bind import bind_settings
from rubricate.cli._generation import generate_options
from rubricate.cli._options import (
    LimitOption,
    OnInvalid,
    OnInvalidOption,
    QuietOption,
    VerboseOption,
)
from rubricate.errors import InputError
from rubricate.generate import (
    Generated,
    GenerationItem,
    GenerationStats,
    RefineOptions,
    RubricBank,
    RubricGenerator,
    Strategy,
    generate_to_file,
    load_embedder,
    read_generation_items,
)
from rubricate.session import Session
from rubricate.settings import Settings

generate_app = typer.Typer(
    name="generate",
    help="Write rubrics in the schema `rubricate grade` reads, each line with its provenance.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(generate_app, name="generate")

_TAIL = """
Writes OUT (JSONL: prompt_id, prompt, rubrics [{criterion, points, tags}], provenance) and
OUT's .summary.json (kept / regenerated / dropped / failed counts). Every model call is cached:
re-running the same command costs no calls, and a killed run resumes where it stopped.
With no --judge-url the embedded local judge (llama.cpp on the CPU) is used.
"""

Data = Annotated[Path, typer.Argument(help="JSONL input (see the command's help for its fields).")]
Out = Annotated[Path, typer.Option("--out", "-o", help="JSONL file to write.")]

# The judge's own completion budget and re-asks are settings too, but here these flags mean
# the generation call's; the judge's come from the config file or the environment.
GENERATE_SETTINGS = ("judge", "generate")
# length_penalty, max_error_rate and keep_replies: a figure, a rule and a record of
# `rubricate grade` runs, nothing a generator uses.
GENERATOR_OWNS = (
    "judge.max_tokens",
    "judge.reasks",
    "judge.length_penalty",
    "judge.max_error_rate",
    "judge.keep_replies",
)


def _stats_table(stats: GenerationStats, title: str) -> Table:
    table = Table(title=title, show_header=False)
    for name in (
        "items",
        "written",
        "kept",
        "regenerated",
        "dropped",
        "failed",
        "skipped_lines",
        "generator_calls",
        "generator_cache_hits",
        "failed_calls",
        "unparseable_replies",
        "reasks",
        "criteria_accepted",
        "criteria_rejected",
        "duplicates_removed",
        "judge_calls",
        "judge_cache_hits",
    ):
        table.add_row(name.replace("_", " "), str(getattr(stats, name)))
    if stats.rejections:
        table.add_row(
            "rejections", ", ".join(f"{k} {v}" for k, v in sorted(stats.rejections.items()))
        )
    return table


@dataclass(frozen=True, slots=True)
class _Invocation:
    """What one generate command was asked to do, beside its settings."""

    strategy: Strategy
    data: Path
    out: Path
    limit: int | None
    on_invalid: OnInvalid
    quiet: bool
    verbose: bool


def _run(
    run: _Invocation, settings: Settings, *, regenerations: int = 2, **runner_kwargs: Any
) -> None:
    """Settings and options -> one streamed generation run."""
    setup_logging(run.verbose)
    with exit_on_error():
        judge, generation = settings.judge, settings.generate
        options = generate_options(settings, regenerations=regenerations)
        embedder = load_embedder() if generation.embed else None
        bank_path = runner_kwargs.pop("bank_path", None)
        if bank_path is not None:
            runner_kwargs["bank"] = RubricBank.from_jsonl(bank_path, embedder=embedder)
        runner_kwargs.update(
            options=options, embedder=embedder, grade_options=judge.grade_options()
        )
        config = {
            "data": str(run.data.resolve()),
            "settings": judge.model_dump(
                mode="json",
                exclude={"cache", "no_cache", "max_error_rate", "keep_replies"}
                # Runs in the layout that was the only one keep the ids they had.
                | ({"layout"} if judge.layout == "response-first" else set()),
            ),
            "generate": generation.model_dump(mode="json"),
            "limit": run.limit,
            "on_invalid": run.on_invalid,
            "regenerations": regenerations,
            "extra": {k: repr(v) for k, v in runner_kwargs.items() if k in ("refine_options", "k")},
            "bank": str(bank_path) if bank_path is not None else None,
        }
        items = itertools.islice(read_generation_items(run.data), run.limit)
        asyncio.run(_generate(run, settings, runner_kwargs, items, config))


async def _generate(
    run: _Invocation,
    settings: Settings,
    runner_kwargs: dict[str, Any],
    items: Iterator[GenerationItem | InputError],
    config: dict[str, Any],
) -> None:
    async with Session(settings.judge) as session:  # no policy: generation samples none
        runner = RubricGenerator(run.strategy, session.judge, store=session.store, **runner_kwargs)
        if not run.quiet:
            runner.on_item = _announce
        stats = await generate_to_file(
            runner, items, run.out, on_invalid=run.on_invalid, config=config
        )
    out = run.out
    console.print(_stats_table(stats, f"rubricate generate {run.strategy} — {out}"))
    console.print(f"wrote {out} and {out.with_name(out.stem + '.summary.json')}", highlight=False)


def _announce(generated: Generated) -> None:
    size = f"{len(generated.criteria)} criteria" if generated.written else generated.reason
    console.print(
        f"{generated.item.id}: {generated.outcome} ({size})", highlight=False, markup=False
    )


@generate_app.command(
    "from-prompt",
    help="Criteria from each prompt (and its reference answer, when given).\n\n"
    "Input lines: `prompt` (messages or text), optional `prompt_id`, optional `reference` "
    "(or HealthBench `ideal_completions_data`)." + _TAIL,
)
@bind_settings(*GENERATE_SETTINGS, exclude=GENERATOR_OWNS)
def from_prompt_command(
    data: Data,
    out: Out = Path("rubrics.jsonl"),
    limit: LimitOption = None,
    on_invalid: OnInvalidOption = "error",
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
    *,
    settings: Settings,
) -> None:
    run = _Invocation("from-prompt", data, out, limit, on_invalid, quiet, verbose)
    _run(run, settings)


@generate_app.command(
    help="Criteria explaining why the chosen response is better, kept only when grading both "
    "responses with them ranks the chosen one higher (else regenerated up to K times).\n\n"
    "Input lines: `prompt`/`question` with `chosen` and `rejected`, or JudgeBench's "
    "`response_A`, `response_B` and `label` ('A>B' or 'B>A')." + _TAIL,
)
@bind_settings(*GENERATE_SETTINGS, exclude=GENERATOR_OWNS)
def contrastive(
    data: Data,
    out: Out = Path("rubrics.jsonl"),
    regenerations: Annotated[
        int,
        typer.Option(
            min=0, help="K: regenerate a rubric that fails the consistency filter up to K times."
        ),
    ] = 2,
    limit: LimitOption = None,
    on_invalid: OnInvalidOption = "error",
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
    *,
    settings: Settings,
) -> None:
    run = _Invocation("contrastive", data, out, limit, on_invalid, quiet, verbose)
    _run(run, settings, regenerations=regenerations)


@generate_app.command(
    help="Recursive decompose-and-filter of existing rubrics over graded responses: split criteria "
    "nearly every response meets, drop misaligned and near-duplicate ones, set correlation-aware "
    "weights. The step log goes into each line's provenance.\n\n"
    "Input lines: `prompt`, `rubrics` (HealthBench schema), `responses` (list of strings) and "
    "optional `preferences` ([[better, worse], ...] indexes), or `chosen` and `rejected`." + _TAIL,
)
@bind_settings(*GENERATE_SETTINGS, exclude=GENERATOR_OWNS)
def refine(
    data: Data,
    out: Out = Path("rubrics.jsonl"),
    max_depth: Annotated[
        int, typer.Option(help="How often a criterion's descendants may be split again.")
    ] = 2,
    saturation: Annotated[
        float, typer.Option(help="Split criteria whose mean satisfaction is at least this.")
    ] = 0.9,
    max_children: Annotated[
        int, typer.Option(help="At most this many finer criteria per split.")
    ] = 4,
    correlation_threshold: Annotated[
        float, typer.Option(help="Verdict correlation at which two criteria are duplicates.")
    ] = 0.95,
    text_threshold: Annotated[
        float, typer.Option(help="Text similarity at which two criteria are duplicates.")
    ] = 0.8,
    no_weights: Annotated[
        bool, typer.Option("--no-weights", help="Keep the points; skip correlation-aware weights.")
    ] = False,
    limit: LimitOption = None,
    on_invalid: OnInvalidOption = "error",
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
    *,
    settings: Settings,
) -> None:
    with exit_on_error():
        refine_options = RefineOptions(
            max_depth=max_depth,
            saturation=saturation,
            max_children=max_children,
            correlation_threshold=correlation_threshold,
            text_threshold=text_threshold,
            weight=not no_weights,
        )
    run = _Invocation("refine", data, out, limit, on_invalid, quiet, verbose)
    _run(run, settings, refine_options=refine_options)


@generate_app.command(
    help="`from-prompt` conditioned on the rubrics of the k most similar prompts of a bank "
    "(BM25; with --embed also all-MiniLM-L6-v2, fused by reciprocal rank). An item never "
    "retrieves its own prompt.\n\nInput lines as for from-prompt; --bank: HealthBench-schema "
    "JSONL (`prompt_id`, `prompt`, `rubrics`), e.g. a previous generate output." + _TAIL,
)
@bind_settings(*GENERATE_SETTINGS, exclude=GENERATOR_OWNS)
def retrieve(
    data: Data,
    bank: Annotated[Path, typer.Option(help="Rubric bank: HealthBench-schema JSONL.")],
    out: Out = Path("rubrics.jsonl"),
    k: Annotated[
        int, typer.Option("-k", min=1, help="Condition on this many similar prompts.")
    ] = 3,
    limit: LimitOption = None,
    on_invalid: OnInvalidOption = "error",
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
    *,
    settings: Settings,
) -> None:
    run = _Invocation("retrieve", data, out, limit, on_invalid, quiet, verbose)
    _run(run, settings, bank_path=bank, k=k)


@generate_app.command(
    help="Atomic information points of reference answers or passages, as criteria "
    '("States that ...", essential or important).\n\nInput lines: `prompt`, and '
    "`reference` (or `ideal_completions_data`) and/or `passages` (strings or {text})." + _TAIL,
)
@bind_settings(*GENERATE_SETTINGS, exclude=GENERATOR_OWNS)
def nuggets(
    data: Data,
    out: Out = Path("rubrics.jsonl"),
    limit: LimitOption = None,
    on_invalid: OnInvalidOption = "error",
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
    *,
    settings: Settings,
) -> None:
    run = _Invocation("nuggets", data, out, limit, on_invalid, quiet, verbose)
    _run(run, settings)
