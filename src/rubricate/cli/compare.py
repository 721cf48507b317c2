"""``rubricate compare``: pairwise judging with position swap."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.table import Table

from rubricate.cli._app import EXIT_BACKEND, app, console, exit_on_error, setup_logging
from rubricate.cli._bind import bind_settings
from rubricate.cli._generation import (
    COMPARE_GENERATION_EXCLUDED,
    check_generation_flags,
    generating_comparer,
    generation_caption,
)
from rubricate.cli._options import (
    LimitOption,
    OnInvalid,
    OnInvalidOption,
    QuietOption,
    VerboseOption,
)
from rubricate.errors import ConfigError, InputError
from rubricate.formats import Format
from rubricate.generate import Strategy, compare_generating_to_dir
from rubricate.pairwise import (
    PAIR_FIELDS,
    PAIRWISE_RULES,
    CompareOptions,
    Comparer,
    CompareSummary,
    JuryMemberSummary,
    Orders,
    Pair,
    SourceFigures,
    compare_to_dir,
    read_pairs,
)
from rubricate.session import Session
from rubricate.settings import Settings, read_jury_file

COMPARE_HELP = """Compare two responses per prompt with an LLM judge, in both orders.

Examples:

    rubricate compare judgebench.jsonl --judge-url http://127.0.0.1:8000/v1 --judge-model M --out runs/c1

    rubricate compare data.jsonl --responses-a model_a.jsonl --responses-b model_b.jsonl --out runs/ab

DATA holds pairs (JudgeBench's pair_id, question, response_A, response_B, label, source; or
any JSONL with --field mappings), or, with --responses-a/--responses-b, the prompts and
rubrics that both response files answer. With a rubric the judge compares criterion by
criterion and points decide (a required criterion one response fails and the other meets
decides the pair); without one it compares holistically. Writes OUT/pairs.jsonl and
OUT/summary.json; re-running costs no judge calls and a killed run resumes.

With --generate-rubric from-prompt (or retrieve, with --bank), each pair without a rubric
gets one written by the judge from its prompt and is compared by it; an essential hard rule
is compared as required (veto). Pairs whose data has a rubric keep it. A pair whose rubric
cannot be generated is an error decision with the reason. The rubrics go to OUT/rubrics.jsonl
(the `rubricate generate` line format), which --responses-a/-b runs can read back as DATA.

With --jury FILE (or the jury setting) every judge of the jury compares every pair and the
rule decides each order: majority (most votes), weighted (largest weight sum) or unanimous;
a split jury decides a tie, a judge that gave no decision does not vote, and 'any' is
refused. pairs.jsonl keeps each judge's decisions and replies under "jury"; summary.json
adds each judge's own accuracy, consistency and first-seat rate, its agreement with the
jury, and Fleiss' kappa and Krippendorff's alpha between the judges.
"""

# Grading-only settings have no meaning for a comparison.
_NOT_FOR_COMPARE = (
    "judge.mode",
    "judge.group_size",
    "judge.layout",
    "judge.method",
    "judge.soft",
    "judge.probabilities",
    "judge.keep_replies",
)


def parse_pair_fields(values: list[str] | None) -> dict[str, str] | None:
    """``--field response_a=left`` pairs as a mapping."""
    if not values:
        return None
    mapping: dict[str, str] = {}
    for value in values:
        key, sep, path = value.partition("=")
        if not sep or key not in PAIR_FIELDS or not path:
            raise ConfigError(
                f"--field '{value}': expected TARGET=PATH with TARGET one of {', '.join(PAIR_FIELDS)}"
            )
        mapping[key] = path
    return mapping


def _limited(items: Iterator[Pair | InputError], limit: int | None) -> Iterator[Pair | InputError]:
    if limit is None:
        return items
    counted = itertools.count(1)
    return itertools.takewhile(
        lambda item: isinstance(item, InputError) or next(counted) <= limit, items
    )


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def compare_table(summary: CompareSummary, title: str) -> Table:
    """The run's figures, then one row per source; with a jury, one row per judge alone."""
    jury = summary.jury
    table = Table(title=title, show_header=True, header_style="bold")
    columns = ["", "pairs", "accuracy", "consistency", "first seat", "ties", "errors"]
    for column in columns + (["vs jury"] if jury else []):
        table.add_column(column, justify="left" if not column else "right", no_wrap=not column)
    rows: list[tuple[str, SourceFigures]] = [("all", summary)]
    if len(summary.by_source) > 1:
        rows += summary.by_source.items()
    if jury:
        rows[0] = (f"jury ({jury.rule})", summary)
        rows += [(f"judge {member.name or member.judge}", member) for member in jury.members]
    for name, figures in rows:
        cells = [
            name,
            str(figures.n_pairs),
            _fmt(figures.accuracy),
            _fmt(figures.consistency),
            _fmt(figures.first_position_rate),
            str(figures.ties),
            str(figures.errors),
        ]
        if jury:
            agrees = figures.agreement_with_jury if isinstance(figures, JuryMemberSummary) else None
            cells.append(_fmt(agrees))
        table.add_row(*cells)
    counts, tokens = summary.counts, summary.tokens
    table.caption = (
        f"{summary.mode}, orders {summary.orders}; judge calls {counts.judge_calls}, cache hits "
        f"{counts.cache_hits}, re-asked {counts.reasked}, failed calls {counts.failed_calls}; "
        f"tokens {tokens.prompt} prompt ({tokens.cached_prompt} cached) / {tokens.completion} completion"
    )
    if summary.rubric_generation is not None:
        table.caption += "\n" + generation_caption(summary.rubric_generation)
    if jury:
        table.caption += (
            f"\njudges' agreement over {jury.trials} trials: Fleiss' kappa "
            f"{_fmt(jury.fleiss_kappa)}, Krippendorff's alpha {_fmt(jury.krippendorff_alpha)}"
        )
    return table


@app.command(help=COMPARE_HELP)
@bind_settings("judge", "generate", exclude=_NOT_FOR_COMPARE + COMPARE_GENERATION_EXCLUDED)
def compare(
    data: Annotated[
        Path, typer.Argument(help="Pairs JSONL, or prompts+rubrics with --responses-a/-b.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run directory to write.")] = Path(
        "runs/compare"
    ),
    orders: Annotated[
        Orders, typer.Option(help="'both' asks each pair in both orders; 'one' as given.")
    ] = "both",
    by: Annotated[
        Literal["auto", "holistic", "criteria"],
        typer.Option(help="'criteria' when pairs have rubrics (auto), else 'holistic'."),
    ] = "auto",
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            help=f"TARGET=PATH for pair JSONL ({', '.join(PAIR_FIELDS)}); repeatable.",
        ),
    ] = None,
    responses_a: Annotated[
        Path | None, typer.Option(help="JSONL {sample_id, response}: the first model's answers.")
    ] = None,
    responses_b: Annotated[
        Path | None, typer.Option(help="JSONL {sample_id, response}: the second model's answers.")
    ] = None,
    format: Annotated[
        Format, typer.Option(help="Format of DATA with --responses-a/-b (as for grade).")
    ] = "auto",
    generate_rubric: Annotated[
        Strategy | None,
        typer.Option(
            help="Write a rubric for each pair without one with this strategy "
            "(from-prompt; retrieve with --bank) and compare by it.",
        ),
    ] = None,
    bank: Annotated[
        Path | None,
        typer.Option(help="--generate-rubric retrieve: rubric bank, HealthBench-schema JSONL."),
    ] = None,
    retrieve_k: Annotated[
        int, typer.Option(min=1, help="--generate-rubric retrieve: similar prompts to show.")
    ] = 3,
    on_invalid: OnInvalidOption = "error",
    limit: LimitOption = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
    *,
    settings: Settings,
) -> None:
    setup_logging(verbose)
    with exit_on_error():
        check_generation_flags(generate_rubric, by, bank)
        judge = settings.judge
        options = CompareOptions(
            orders=orders,
            mode=None if by == "auto" else by,
            explain=judge.explain,
            max_tokens=judge.max_tokens or (1024 if judge.explain else 128),
        )
        if judge.jury is not None:
            # Checked before any judge is built, so a bad rule is located in its file.
            read_jury_file(judge.jury, rules=PAIRWISE_RULES)
        fields = parse_pair_fields(field)
        pairs = read_pairs(
            data,
            fields=fields,
            responses_a=responses_a,
            responses_b=responses_b,
            data_format=format,
        )
        config = {
            "data": str(data.resolve()),
            "fields": fields,
            "responses": [str(p) if p else None for p in (responses_a, responses_b)],
            "settings": judge.model_dump(
                mode="json", exclude={"cache", "no_cache", "keep_replies", "layout"}
            ),
            "limit": limit,
            "out": str(out.resolve()),
        }
        generation = None
        if generate_rubric is not None:
            generation = (generate_rubric, bank, retrieve_k)
            config["generate"] = settings.generate.model_dump(mode="json")
            config["bank"] = str(bank.resolve()) if bank is not None else None
        summary = asyncio.run(
            _compare(settings, options, _limited(pairs, limit), out, on_invalid, config, generation)
        )
        console.print(compare_table(summary, title=f"rubricate compare — {out}"))
        console.print(f"wrote {out / 'pairs.jsonl'} and {out / 'summary.json'}", highlight=False)
        decisions = summary.n_pairs * (2 if orders == "both" else 1)
        if summary.n_pairs and summary.counts.failed_calls and summary.errors == decisions:
            raise typer.Exit(EXIT_BACKEND)
        generated = summary.rubric_generation
        if generated and generated.failed and summary.counts.error_pairs == summary.n_pairs:
            raise typer.Exit(EXIT_BACKEND)  # no rubric could be written, so nothing was compared


async def _compare(
    settings: Settings,
    options: CompareOptions,
    pairs: Iterator[Pair | InputError],
    out: Path,
    on_invalid: OnInvalid,
    config: dict[str, Any],
    generation: tuple[Strategy, Path | None, int] | None = None,
) -> CompareSummary:
    async with Session(settings) as session:
        if generation is not None:
            strategy, bank, k = generation
            generating = generating_comparer(session, settings, options, strategy, bank=bank, k=k)
            return await compare_generating_to_dir(
                generating, pairs, out, on_invalid=on_invalid, config=config
            )
        grading = settings.judge.grade_options()
        comparer = Comparer(
            session.jury or session.judge,
            store=session.store,
            options=options,
            concurrency=grading.concurrency,
            reasks=grading.reasks,
        )
        return await compare_to_dir(comparer, pairs, out, on_invalid=on_invalid, config=config)
