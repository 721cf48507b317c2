"""``rubricate generate``: write rubrics (from-prompt, contrastive, refine, retrieve, nuggets)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from rubricate.cli._app import app, console, exit_on_error, setup_logging
from rubricate.config import JudgeSettings, build_judge
from rubricate.errors import ConfigError, InputError
from rubricate.generate import (
    Generated,
    GenerateOptions,
    GenerationItem,
    GenerationStats,
    RefineOptions,
    RubricBank,
    RubricGenerator,
    generate_to_file,
    load_embedder,
    read_generation_items,
)
from rubricate.store import Store

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
Judge = Annotated[
    str | None,
    typer.Option(help="'openai' or 'local' (default: openai when --judge-url is given)."),
]
JudgeUrl = Annotated[
    list[str] | None, typer.Option(help="OpenAI-compatible base URL (…/v1); repeat for a pool.")
]
JudgeModel = Annotated[str | None, typer.Option(help="Model name on the server.")]
LocalModel = Annotated[
    str | None, typer.Option(help="Local model: a GGUF path or a known model name.")
]
Threads = Annotated[int | None, typer.Option(help="Local model CPU threads.")]
Concurrency = Annotated[
    int | None, typer.Option(help="Model calls in flight (items in flight for generation).")
]
Timeout = Annotated[float | None, typer.Option(help="Per-request timeout in seconds.")]
Cache = Annotated[
    Path | None,
    typer.Option(
        help="SQLite cache file (default ~/.cache/rubricate/store.sqlite or RUBRICATE_CACHE)."
    ),
]
NoCache = Annotated[
    bool, typer.Option("--no-cache", help="Neither read nor write the cache (no resume).")
]
MaxCriteria = Annotated[int, typer.Option(help="At most this many criteria per rubric.")]
MinCriteria = Annotated[int, typer.Option(help="Fewer valid criteria than this fail the item.")]
Reasks = Annotated[
    int, typer.Option(help="Re-asks after an unparseable reply or rejected criteria.")
]
MaxTokens = Annotated[int, typer.Option(help="Completion budget of one generation call.")]
Seed = Annotated[int, typer.Option(help="Generation seed (enters the cache key).")]
Embed = Annotated[
    bool,
    typer.Option(
        "--embed",
        help="Also dedup (and retrieve) by all-MiniLM-L6-v2 similarity (needs rubricate[embed]).",
    ),
]
Limit = Annotated[int | None, typer.Option(help="Only the first N items.")]
OnInvalid = Annotated[
    str, typer.Option(help="'error' stops at the first bad line; 'skip' counts it and goes on.")
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No per-item lines.")]
Verbose = Annotated[
    bool, typer.Option("--verbose", "-v", help="Log every step (refine's log included).")
]


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


COMMON = (
    "judge",
    "judge_url",
    "judge_model",
    "local_model",
    "threads",
    "concurrency",
    "timeout",
    "cache",
    "no_cache",
    "max_criteria",
    "min_criteria",
    "reasks",
    "max_tokens",
    "seed",
    "embed",
    "limit",
    "on_invalid",
    "quiet",
    "verbose",
)


def _run(
    strategy: str,
    data: Path,
    out: Path,
    flags: dict[str, Any],
    *,
    regenerations: int = 2,
    **runner_kwargs: Any,
) -> None:
    """Flags -> settings and options -> one streamed generation run."""
    setup_logging(flags["verbose"])
    with exit_on_error():
        if flags["on_invalid"] not in ("error", "skip"):
            raise ConfigError("--on-invalid must be 'error' or 'skip'")
        settings = JudgeSettings.from_env(
            judge=flags["judge"],
            judge_urls=flags["judge_url"] or None,
            judge_model=flags["judge_model"],
            local_model=flags["local_model"],
            threads=flags["threads"],
            concurrency=flags["concurrency"],
            timeout=flags["timeout"],
            cache=flags["cache"],
            no_cache=flags["no_cache"] or None,
        )
        options = GenerateOptions(
            min_criteria=flags["min_criteria"],
            max_criteria=flags["max_criteria"],
            reasks=flags["reasks"],
            max_tokens=flags["max_tokens"],
            seed=flags["seed"],
            regenerations=regenerations,
            # A model on the CPU answers one call at a time; interleaving items only thrashes its cache.
            concurrency=1 if settings.kind == "local" else settings.concurrency,
        )
        embedder = load_embedder() if flags["embed"] else None
        bank_path = runner_kwargs.pop("bank_path", None)
        if bank_path is not None:
            runner_kwargs["bank"] = RubricBank.from_jsonl(bank_path, embedder=embedder)
        runner_kwargs.update(
            options=options, embedder=embedder, grade_options=settings.grade_options()
        )
        config = {
            "data": str(data.resolve()),
            "settings": settings.model_dump(mode="json", exclude={"cache", "no_cache"}),
            "flags": {
                k: v for k, v in flags.items() if k not in ("cache", "no_cache", "quiet", "verbose")
            },
            "regenerations": regenerations,
            "extra": {k: repr(v) for k, v in runner_kwargs.items() if k in ("refine_options", "k")},
            "bank": str(bank_path) if bank_path is not None else None,
        }
        items = itertools.islice(read_generation_items(data), flags["limit"])
        coroutine = _generate(strategy, settings, runner_kwargs, items, out, flags, config)
        asyncio.run(coroutine)


async def _generate(
    strategy: str,
    settings: JudgeSettings,
    runner_kwargs: dict[str, Any],
    items: Iterator[GenerationItem | InputError],
    out: Path,
    flags: dict[str, Any],
    config: dict[str, Any],
) -> None:
    judge = build_judge(settings)
    cache_path = settings.cache_path()
    store = Store(cache_path) if cache_path is not None else None
    try:
        runner = RubricGenerator(strategy, judge, store=store, **runner_kwargs)  # type: ignore[arg-type]
        if not flags["quiet"]:
            runner.on_item = _announce
        stats = await generate_to_file(
            runner, items, out, on_invalid=flags["on_invalid"], config=config
        )
    finally:
        await judge.aclose()
        if store is not None:
            store.close()
    console.print(_stats_table(stats, f"rubricate generate {strategy} — {out}"))
    console.print(f"wrote {out} and {out.with_name(out.stem + '.summary.json')}", highlight=False)


def _announce(generated: Generated) -> None:
    size = f"{len(generated.criteria)} criteria" if generated.written else generated.reason
    console.print(
        f"{generated.item.id}: {generated.outcome} ({size})", highlight=False, markup=False
    )


def _flags(values: dict[str, Any]) -> dict[str, Any]:
    return {name: values[name] for name in COMMON}


@generate_app.command(
    "from-prompt",
    help="Criteria from each prompt (and its reference answer, when given).\n\n"
    "Input lines: `prompt` (messages or text), optional `prompt_id`, optional `reference` "
    "(or HealthBench `ideal_completions_data`)." + _TAIL,
)
def from_prompt_command(
    data: Data,
    out: Out = Path("rubrics.jsonl"),
    judge: Judge = None,
    judge_url: JudgeUrl = None,
    judge_model: JudgeModel = None,
    local_model: LocalModel = None,
    threads: Threads = None,
    concurrency: Concurrency = None,
    timeout: Timeout = None,
    cache: Cache = None,
    no_cache: NoCache = False,
    max_criteria: MaxCriteria = 8,
    min_criteria: MinCriteria = 2,
    reasks: Reasks = 2,
    max_tokens: MaxTokens = 768,
    seed: Seed = 0,
    embed: Embed = False,
    limit: Limit = None,
    on_invalid: OnInvalid = "error",
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    _run("from-prompt", data, out, _flags(locals()))


@generate_app.command(
    help="Criteria explaining why the chosen response is better, kept only when grading both "
    "responses with them ranks the chosen one higher (else regenerated up to K times).\n\n"
    "Input lines: `prompt`/`question` with `chosen` and `rejected`, or JudgeBench's "
    "`response_A`, `response_B` and `label` ('A>B' or 'B>A')." + _TAIL,
)
def contrastive(
    data: Data,
    out: Out = Path("rubrics.jsonl"),
    regenerations: Annotated[
        int,
        typer.Option(
            help="K: regenerate a rubric that fails the consistency filter up to K times."
        ),
    ] = 2,
    judge: Judge = None,
    judge_url: JudgeUrl = None,
    judge_model: JudgeModel = None,
    local_model: LocalModel = None,
    threads: Threads = None,
    concurrency: Concurrency = None,
    timeout: Timeout = None,
    cache: Cache = None,
    no_cache: NoCache = False,
    max_criteria: MaxCriteria = 8,
    min_criteria: MinCriteria = 2,
    reasks: Reasks = 2,
    max_tokens: MaxTokens = 768,
    seed: Seed = 0,
    embed: Embed = False,
    limit: Limit = None,
    on_invalid: OnInvalid = "error",
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    _run("contrastive", data, out, _flags(locals()), regenerations=regenerations)


@generate_app.command(
    help="Recursive decompose-and-filter of existing rubrics over graded responses: split criteria "
    "nearly every response meets, drop misaligned and near-duplicate ones, set correlation-aware "
    "weights. The step log goes into each line's provenance.\n\n"
    "Input lines: `prompt`, `rubrics` (HealthBench schema), `responses` (list of strings) and "
    "optional `preferences` ([[better, worse], ...] indexes), or `chosen` and `rejected`." + _TAIL,
)
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
    judge: Judge = None,
    judge_url: JudgeUrl = None,
    judge_model: JudgeModel = None,
    local_model: LocalModel = None,
    threads: Threads = None,
    concurrency: Concurrency = None,
    timeout: Timeout = None,
    cache: Cache = None,
    no_cache: NoCache = False,
    max_criteria: MaxCriteria = 8,
    min_criteria: MinCriteria = 2,
    reasks: Reasks = 2,
    max_tokens: MaxTokens = 768,
    seed: Seed = 0,
    embed: Embed = False,
    limit: Limit = None,
    on_invalid: OnInvalid = "error",
    quiet: Quiet = False,
    verbose: Verbose = False,
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
    _run("refine", data, out, _flags(locals()), refine_options=refine_options)


@generate_app.command(
    help="`from-prompt` conditioned on the rubrics of the k most similar prompts of a bank "
    "(BM25; with --embed also all-MiniLM-L6-v2, fused by reciprocal rank). An item never "
    "retrieves its own prompt.\n\nInput lines as for from-prompt; --bank: HealthBench-schema "
    "JSONL (`prompt_id`, `prompt`, `rubrics`), e.g. a previous generate output." + _TAIL,
)
def retrieve(
    data: Data,
    bank: Annotated[Path, typer.Option(help="Rubric bank: HealthBench-schema JSONL.")],
    out: Out = Path("rubrics.jsonl"),
    k: Annotated[int, typer.Option("-k", help="Condition on this many similar prompts.")] = 3,
    judge: Judge = None,
    judge_url: JudgeUrl = None,
    judge_model: JudgeModel = None,
    local_model: LocalModel = None,
    threads: Threads = None,
    concurrency: Concurrency = None,
    timeout: Timeout = None,
    cache: Cache = None,
    no_cache: NoCache = False,
    max_criteria: MaxCriteria = 8,
    min_criteria: MinCriteria = 2,
    reasks: Reasks = 2,
    max_tokens: MaxTokens = 768,
    seed: Seed = 0,
    embed: Embed = False,
    limit: Limit = None,
    on_invalid: OnInvalid = "error",
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    _run("retrieve", data, out, _flags(locals()), bank_path=bank, k=k)


@generate_app.command(
    help="Atomic information points of reference answers or passages, as criteria "
    '("States that ...", essential or important).\n\nInput lines: `prompt`, and '
    "`reference` (or `ideal_completions_data`) and/or `passages` (strings or {text})." + _TAIL,
)
def nuggets(
    data: Data,
    out: Out = Path("rubrics.jsonl"),
    judge: Judge = None,
    judge_url: JudgeUrl = None,
    judge_model: JudgeModel = None,
    local_model: LocalModel = None,
    threads: Threads = None,
    concurrency: Concurrency = None,
    timeout: Timeout = None,
    cache: Cache = None,
    no_cache: NoCache = False,
    max_criteria: MaxCriteria = 8,
    min_criteria: MinCriteria = 2,
    reasks: Reasks = 2,
    max_tokens: MaxTokens = 768,
    seed: Seed = 0,
    embed: Embed = False,
    limit: Limit = None,
    on_invalid: OnInvalid = "error",
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    _run("nuggets", data, out, _flags(locals()))
