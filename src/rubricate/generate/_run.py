"""Running a strategy over a stream of items: in memory, or streamed to a JSONL file.

Items are processed ``options.concurrency`` at a time and come out in input order. Output
goes to ``OUT.partial`` and is renamed when the run completes; every generation call and
every judgment is cached in the store, so re-running a killed job resumes at no cost.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rubricate.backends import Judge
from rubricate.engine import GradeOptions, Grader, map_in_order, run_sync
from rubricate.errors import ConfigError, InputError
from rubricate.generate._contrastive import contrastive
from rubricate.generate._dedup import Embedder
from rubricate.generate._from_prompt import from_prompt
from rubricate.generate._io import rubric_record
from rubricate.generate._nuggets import nuggets
from rubricate.generate._refine import RefineOptions, refine
from rubricate.generate._retrieve import RubricBank, retrieve
from rubricate.generate._types import (
    Generated,
    GeneratedRubric,
    GenerateOptions,
    GenerationItem,
    GenerationStats,
    Strategy,
)
from rubricate.generate._write import Writer
from rubricate.runs import RunWriter
from rubricate.store import Store, open_store

__all__ = [
    "GenerationResult",
    "RubricGenerator",
    "generate_rubrics",
    "generate_rubrics_async",
    "generate_to_file",
]

logger = logging.getLogger(__name__)

STRATEGIES: tuple[str, ...] = ("from-prompt", "contrastive", "refine", "retrieve", "nuggets")
_JUDGED = frozenset({"contrastive", "refine"})


class RubricGenerator:
    """One strategy with its generator, judge, store and counters.

    Args:
        strategy: ``from-prompt``, ``contrastive``, ``refine``, ``retrieve`` or ``nuggets``.
        generator: the model that writes criteria (text-mode ``complete``).
        judge: the model that grades responses (``contrastive``, ``refine``); default ``generator``.
        store: the SQLite store caching generation calls and judgments.
        options, grade_options, refine_options: see the option classes.
        bank: the rubric bank of ``retrieve``; ``k``: how many similar prompts it conditions on.
        embedder: enables embedding dedup (and hybrid retrieval when the bank was built with it).
    """

    def __init__(
        self,
        strategy: Strategy,
        generator: Judge,
        *,
        judge: Judge | None = None,
        store: Store | None = None,
        options: GenerateOptions | None = None,
        grade_options: GradeOptions | None = None,
        refine_options: RefineOptions | None = None,
        bank: RubricBank | None = None,
        k: int = 3,
        embedder: Embedder | None = None,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ConfigError(f"unknown strategy '{strategy}' ({', '.join(STRATEGIES)})")
        if strategy == "retrieve" and bank is None:
            raise ConfigError("the retrieve strategy needs a rubric bank")
        self.strategy = strategy
        self.options = options or GenerateOptions()
        self.stats = GenerationStats()
        self.writer = Writer(
            generator, store=store, options=self.options, embedder=embedder, stats=self.stats
        )
        self.grader = (
            Grader(judge or generator, store=store, options=grade_options)
            if strategy in _JUDGED
            else None
        )
        self.refine_options = refine_options or RefineOptions()
        self.bank = bank
        self.k = k
        self.on_item: Callable[[Generated], None] | None = None  # called as each item finishes

    @property
    def judge_fingerprint(self) -> str | None:
        return self.grader.judge.fingerprint if self.grader is not None else None

    async def run_one(self, item: GenerationItem) -> Generated:
        """Apply the strategy to one item (never raises for a bad model reply; see ``Generated.reason``)."""
        if self.strategy == "from-prompt":
            return await from_prompt(item, self.writer)
        if self.strategy == "retrieve":
            return await retrieve(item, self.writer, self.bank, k=self.k)  # type: ignore[arg-type]
        if self.strategy == "nuggets":
            return await nuggets(item, self.writer)
        if self.strategy == "contrastive":
            return await contrastive(item, self.writer, self.grader)  # type: ignore[arg-type]
        return await refine(item, self.writer, self.grader, self.refine_options)  # type: ignore[arg-type]

    def record(self, generated: Generated) -> GeneratedRubric:
        """The output line of a written rubric."""
        return rubric_record(
            generated.item,
            generated.criteria,
            strategy=generated.strategy,
            model=self.writer.generator.fingerprint,
            prompt_version=generated.prompt_version,
            source_ids=generated.source_ids,
            judge=self.judge_fingerprint if generated.judged else None,
            outcome=generated.outcome,
            attempts=generated.attempts,
            details=generated.details,
        )

    def _account(self, generated: Generated) -> None:
        stats = self.stats
        stats.items += 1
        if generated.outcome == "kept":
            stats.kept += 1
        elif generated.outcome == "regenerated":
            stats.kept += 1
            stats.regenerated += 1
        elif generated.outcome == "dropped":
            stats.dropped += 1
        else:
            stats.failed += 1
        stats.regeneration_attempts += (
            max(0, generated.attempts - 1) if self.strategy == "contrastive" else 0
        )
        if not generated.written:
            stats.fail(f"{generated.item.id}: {generated.outcome}: {generated.reason}")
        if self.grader is not None:
            stats.take_judge_calls(self.grader.calls.counts)

    async def generate_one(self, item: GenerationItem) -> Generated:
        """``run_one``, counted in ``stats`` and announced to ``on_item``."""
        generated = await self.run_one(item)
        self._account(generated)
        if self.on_item is not None:
            self.on_item(generated)
        return generated

    def flush(self) -> None:
        """Write cached generation calls and judgments to the store now."""
        self.writer.calls.flush()
        if self.grader is not None:
            self.grader.flush()

    async def iter_generate(
        self, items: Iterable[GenerationItem | InputError]
    ) -> AsyncIterator[Generated | InputError]:
        """Results in input order; a bad record comes back as its ``InputError`` (counted as skipped)."""
        window = max(1, self.options.concurrency)

        async def one(item: GenerationItem | InputError) -> Generated | InputError:
            if isinstance(item, InputError):
                self.stats.skipped_lines += 1
                return item
            return await self.generate_one(item)

        async with aclosing(map_in_order(items, one, window)) as results:
            async for result in results:
                yield result


@dataclass(frozen=True)
class GenerationResult:
    """Rubrics written (in input order), every item's outcome and the run's counters."""

    rubrics: list[GeneratedRubric]
    outcomes: list[Generated]
    stats: GenerationStats


async def generate_rubrics_async(
    items: Iterable[GenerationItem | InputError],
    generator: Judge,
    *,
    strategy: Strategy = "from-prompt",
    store: Store | str | Path | None = None,
    skip_invalid: bool = False,
    **kwargs: Any,
) -> GenerationResult:
    """Generate rubrics for ``items`` with ``strategy``; ``kwargs`` go to ``RubricGenerator``."""
    opened, owned = open_store(store)
    runner: RubricGenerator | None = None
    try:
        runner = RubricGenerator(strategy, generator, store=opened, **kwargs)
        rubrics: list[GeneratedRubric] = []
        outcomes: list[Generated] = []
        async for result in runner.iter_generate(items):
            if isinstance(result, InputError):
                if not skip_invalid:
                    raise result
                continue
            outcomes.append(result)
            if result.written:
                rubrics.append(runner.record(result))
                runner.stats.written += 1
    finally:
        if runner is not None:
            runner.flush()
        if owned and opened is not None:
            opened.close()
    return GenerationResult(rubrics, outcomes, runner.stats)


def generate_rubrics(
    items: Iterable[GenerationItem | InputError], generator: Judge, **kwargs: Any
) -> GenerationResult:
    """Synchronous ``generate_rubrics_async`` for scripts."""
    return run_sync(generate_rubrics_async(items, generator, **kwargs))


async def generate_to_file(
    runner: RubricGenerator,
    items: Iterable[GenerationItem | InputError],
    out: str | Path,
    *,
    on_invalid: str = "error",
    config: dict[str, Any] | None = None,
) -> GenerationStats:
    """Stream ``runner``'s rubrics to ``out`` (JSONL) and its counters to ``OUT.summary.json``.

    Written through the one ``RunWriter``: lines go to ``OUT.partial`` first and the file is
    renamed only when every item is done; with a store, the run is journalled under the hash of
    ``config`` (a repeated run is a resumed attempt).
    """
    path = Path(out)
    store = runner.writer.store
    config = {"generate": runner.strategy, **(config or {}), "out": str(path.resolve())}
    with RunWriter(
        path,
        path.with_name(path.stem + ".summary.json"),
        store=store,
        config=config,
        on_invalid=on_invalid,  # type: ignore[arg-type]
    ) as run:
        try:
            async for result in runner.iter_generate(items):
                if isinstance(result, InputError):
                    run.skip(str(result))
                    runner.stats.fail(f"skipped line: {result}")
                    continue
                if result.written:
                    run.write(runner.record(result).model_dump_json())
                    runner.stats.written += 1
        finally:
            runner.flush()
        run.complete(runner.stats.model_dump(mode="json"))
    return runner.stats
