"""Generation settings shared by ``rubricate generate`` and ``rubricate compare --generate-rubric``."""

from __future__ import annotations

from pathlib import Path

from rubricate.errors import ConfigError
from rubricate.generate import (
    GenerateOptions,
    GeneratingComparer,
    RubricBank,
    RubricGenerator,
    Strategy,
    check_compare_strategy,
    load_embedder,
)
from rubricate.pairwise import CompareOptions, RubricGenerationFigures
from rubricate.session import Session
from rubricate.settings import Settings

__all__ = [
    "COMPARE_GENERATION_EXCLUDED",
    "check_generation_flags",
    "generate_options",
    "generating_comparer",
    "generation_caption",
]

# In compare, --reasks and --max-tokens are the comparison's; the generation call's come from
# the config file or RUBRICATE_GENERATE_REASKS / RUBRICATE_GENERATE_MAX_TOKENS.
COMPARE_GENERATION_EXCLUDED = ("generate.reasks", "generate.max_tokens")


def generate_options(settings: Settings, *, regenerations: int = 2) -> GenerateOptions:
    """The generation options ``settings.generate`` describes."""
    judge, generation = settings.judge, settings.generate
    return GenerateOptions(
        min_criteria=generation.min_criteria,
        max_criteria=generation.max_criteria,
        reasks=generation.reasks,
        max_tokens=generation.max_tokens,
        seed=generation.seed,
        regenerations=regenerations,
        # A model on the CPU answers one call at a time; interleaving items only thrashes its cache.
        concurrency=1 if judge.kind == "local" else judge.concurrency,
    )


def check_generation_flags(strategy: Strategy | None, by: str, bank: Path | None) -> None:
    """Reject ``--generate-rubric`` combinations that cannot work, before any data is read."""
    if strategy is None:
        if bank is not None:
            raise ConfigError("--bank serves --generate-rubric retrieve; give that too")
        return
    check_compare_strategy(strategy)
    if by == "holistic":
        raise ConfigError(
            "--generate-rubric writes rubrics to compare by; --by holistic uses none "
            "(use --by auto or --by criteria)"
        )
    if strategy == "retrieve" and bank is None:
        raise ConfigError("--generate-rubric retrieve needs --bank (HealthBench-schema JSONL)")
    if strategy != "retrieve" and bank is not None:
        raise ConfigError(f"--bank serves --generate-rubric retrieve, not {strategy}")


def generating_comparer(
    session: Session,
    settings: Settings,
    options: CompareOptions,
    strategy: Strategy,
    *,
    bank: Path | None = None,
    k: int = 3,
) -> GeneratingComparer:
    """A comparer writing rubrics with ``strategy``.

    The session's judge writes the rubrics; the session's jury, when there is one, compares.
    """
    embedder = load_embedder() if settings.generate.embed else None
    generator = RubricGenerator(
        strategy,
        session.judge,
        store=session.store,
        options=generate_options(settings),
        bank=RubricBank.from_jsonl(bank, embedder=embedder) if bank is not None else None,
        k=k,
        embedder=embedder,
    )
    grading = settings.judge.grade_options()
    return GeneratingComparer(
        session.jury or session.judge,
        generator,
        store=session.store,
        options=options,
        concurrency=grading.concurrency,
        reasks=grading.reasks,
    )


def generation_caption(figures: RubricGenerationFigures) -> str:
    """One caption line: where the rubrics came from and what generating them cost."""
    tokens = figures.tokens
    return (
        f"rubrics ({figures.strategy}): {figures.generated} generated, {figures.from_data} from "
        f"data, {figures.failed} generation failures; generation calls {figures.calls}, cache "
        f"hits {figures.cache_hits}, failed calls {figures.failed_calls}, unparseable "
        f"{figures.unparseable_replies}; tokens {tokens.prompt} prompt / {tokens.completion} completion"
    )
