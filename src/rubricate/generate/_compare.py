"""Criterion-wise comparison by rubrics written on the fly for the pairs that carry none.

A pair whose data holds a rubric keeps it (no generation call). For every other pair the
generator writes a rubric from the pair's prompt alone and the pair is compared by it; a
``hard_rule`` criterion of ``essential`` importance (a constraint the request states, whose
absence fails it) is compared as ``required``, so one response failing it while the other
meets it decides the order (veto). A pair whose generation fails becomes an error decision
carrying the reason: it is counted, never compared holistically instead.

Generation calls and comparison calls both go through cached ``CallEngine``s, so a re-run
costs no call and a killed run resumes. The rubrics are written to ``OUT/rubrics.jsonl`` in
``rubricate generate``'s line format (with provenance); given back to ``rubricate compare``
as the rubric source, they reproduce the same decisions from the cache.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import aclosing
from dataclasses import replace
from pathlib import Path
from typing import Any

from rubricate.backends import Judge
from rubricate.engine import Jury, map_in_order, run_sync
from rubricate.errors import ConfigError, InputError
from rubricate.generate._io import record_rubric
from rubricate.generate._retrieve import RubricBank
from rubricate.generate._run import RubricGenerator
from rubricate.generate._types import GeneratedRubric, GenerateOptions, GenerationItem, Strategy
from rubricate.pairwise import (
    CompareOptions,
    Comparer,
    CompareSummary,
    Decision,
    Pair,
    PairLine,
    RubricGenerationFigures,
    TrialLine,
    compare_to_dir,
    consistent,
    judgebench_correct,
    net_vote,
    preference,
)
from rubricate.rubric import Criterion
from rubricate.runs import OnInvalid, RunWriter
from rubricate.store import Store

__all__ = [
    "COMPARE_STRATEGIES",
    "GeneratingComparer",
    "check_compare_strategy",
    "compare_generating_to_dir",
    "compare_pairs_generating",
    "with_vetoes",
]

COMPARE_STRATEGIES: tuple[str, ...] = ("from-prompt", "retrieve")
_WHY_NOT: dict[str, str] = {
    "contrastive": "it writes criteria from a labelled chosen/rejected pair, so the compared "
    "pair's label would leak into the rubric the judge compares by",
    "refine": "it reworks an existing rubric over graded responses, and a pair without a "
    "rubric has neither",
    "nuggets": "it extracts criteria from a reference answer or passages, which pairs do not carry",
}
_VETO_TAGS = frozenset({"kind:hard_rule", "importance:essential"})


def check_compare_strategy(strategy: str) -> None:
    """Raise ``ConfigError`` unless ``strategy`` can write a comparison's rubric, saying why not."""
    if strategy in COMPARE_STRATEGIES:
        return
    usable = "from-prompt (the prompt alone) and retrieve (the prompt and a rubric bank)"
    why = _WHY_NOT.get(strategy)
    if why is None:
        raise ConfigError(
            f"unknown rubric generation strategy '{strategy}'; compare can use {usable}"
        )
    raise ConfigError(
        f"rubric generation strategy '{strategy}' cannot write a comparison's rubric: {why}; "
        f"compare can use {usable}"
    )


def with_vetoes(criteria: Sequence[Criterion]) -> list[Criterion]:
    """``criteria`` with each essential hard rule made ``required``."""
    return [
        c.model_copy(update={"required": True}) if set(c.tags) >= _VETO_TAGS else c
        for c in criteria
    ]


class GeneratingComparer(Comparer):
    """A ``Comparer`` that writes a rubric for each pair without one, then compares by it.

    Args:
        judge: compares the pairs (a judge, or a jury whose rule decides each order).
        generator: writes the rubrics (a strategy of ``COMPARE_STRATEGIES``); its model may be
            the comparison's judge.
        store, options, concurrency, reasks: as for ``Comparer``; ``options.mode`` may not be
            ``holistic``.

    Attributes:
        on_rubric: called with each generated rubric's line, in input order.
    """

    def __init__(
        self,
        judge: Judge | Jury,
        generator: RubricGenerator,
        *,
        store: Store | None = None,
        options: CompareOptions | None = None,
        concurrency: int = 16,
        reasks: int = 2,
    ) -> None:
        check_compare_strategy(generator.strategy)
        if options is not None and options.mode == "holistic":
            raise ConfigError(
                "a holistic comparison uses no rubric: generate rubrics with mode 'criteria' "
                "or automatic (--by auto)"
            )
        super().__init__(
            judge, store=store, options=options, concurrency=concurrency, reasks=reasks
        )
        self.generator = generator
        self.on_rubric: Callable[[GeneratedRubric], None] | None = None
        self.from_data = 0
        self.generated = 0
        self.failed = 0

    async def compare_pair(self, pair: Pair) -> PairLine:
        line, _ = await self.compare_with_rubric(pair)
        return line

    async def compare_with_rubric(self, pair: Pair) -> tuple[PairLine, GeneratedRubric | None]:
        """The pair's line, and the rubric line written for it (``None``: data's rubric, or failed)."""
        if pair.rubric is not None:
            self.from_data += 1
            return await super().compare_pair(pair), None
        generated = await self.generator.generate_one(GenerationItem(pair.id, pair.messages))
        if not generated.written:
            self.failed += 1
            return self._generation_failed(pair, generated.reason or generated.outcome), None
        generated.criteria = with_vetoes(generated.criteria)
        record = self.generator.record(generated)
        self.generator.stats.written += 1
        self.generated += 1
        # The rubric as `rubricate compare` reads it back from rubrics.jsonl: same cache keys.
        rubric = record_rubric(record.rubrics, pair.id)
        line = await super().compare_pair(replace(pair, rubric=rubric))
        return line.model_copy(update={"rubric_source": "generated"}), record

    def _generation_failed(self, pair: Pair, reason: str) -> PairLine:
        decisions: list[Decision | None] = [None for _ in self.orders]
        error = f"rubric_generation_failed: {reason}"
        return PairLine(
            pair_id=pair.id,
            source=pair.source or "",
            label=pair.label,
            mode="criteria",
            judgments=[TrialLine(order=order, decision=None, error=error) for order in self.orders],
            decisions=decisions,
            net_vote=net_vote(decisions),
            preference=preference(decisions),
            correct=None if pair.label is None else judgebench_correct(decisions, pair.label),
            consistent=consistent(decisions),
            rubric_source="generated",
            judge=self.judge.fingerprint,
            template=self.template("criteria").version,
        )

    async def iter_compare(self, pairs: Iterable[Pair]) -> AsyncIterator[PairLine]:
        started = map_in_order(pairs, self.compare_with_rubric, self.options.window)
        async with aclosing(started) as results:
            async for line, record in results:
                if record is not None and self.on_rubric is not None:
                    self.on_rubric(record)
                yield line

    def flush(self) -> None:
        super().flush()
        self.generator.flush()

    def rubric_generation(self) -> RubricGenerationFigures:
        stats = self.generator.stats
        return RubricGenerationFigures(
            strategy=self.generator.strategy,
            generator=self.generator.writer.generator.fingerprint,
            from_data=self.from_data,
            generated=self.generated,
            failed=self.failed,
            calls=stats.generator_calls,
            cache_hits=stats.generator_cache_hits,
            failed_calls=stats.failed_calls,
            unparseable_replies=stats.unparseable_replies,
            reasks=stats.reasks,
            criteria_rejected=stats.criteria_rejected,
            tokens=replace(stats.generator_tokens),
            failures=list(stats.failures),
        )


async def compare_generating_to_dir(
    comparer: GeneratingComparer,
    pairs: Iterable[Pair | InputError],
    out_dir: str | Path,
    *,
    on_invalid: OnInvalid = "error",
    config: dict[str, Any] | None = None,
) -> CompareSummary:
    """``compare_to_dir``, the generated rubrics also written to ``OUT/rubrics.jsonl``.

    ``rubrics.jsonl`` (and ``rubrics.summary.json``, the generation counters) is published
    like ``pairs.jsonl``: through ``.partial``, once the run completes.
    """
    out = Path(out_dir)
    generator = comparer.generator
    run_config = {
        "generate_rubric": generator.strategy,
        "generator": generator.writer.generator.fingerprint,
        "generate_options": repr(generator.options),
        **(config or {}),
    }
    with RunWriter(
        out / "rubrics.jsonl", out / "rubrics.summary.json", config=run_config
    ) as rubrics:
        comparer.on_rubric = lambda record: rubrics.write(record.model_dump_json())
        try:
            summary = await compare_to_dir(
                comparer, pairs, out, on_invalid=on_invalid, config=run_config
            )
        finally:
            comparer.on_rubric = None
        rubrics.complete(generator.stats.model_dump(mode="json"))
    return summary


def compare_pairs_generating(
    pairs: Iterable[Pair | InputError],
    judge: Judge,
    out_dir: str | Path,
    *,
    strategy: Strategy = "from-prompt",
    generator: Judge | None = None,
    store: Store | None = None,
    options: CompareOptions | None = None,
    generate_options: GenerateOptions | None = None,
    bank: RubricBank | None = None,
    k: int = 3,
    concurrency: int = 16,
    reasks: int = 2,
    on_invalid: OnInvalid = "error",
) -> CompareSummary:
    """Compare ``pairs`` criterion-wise, writing a rubric with ``strategy`` for each pair without one.

    ``generator`` writes the rubrics (default: ``judge``); ``bank`` and ``k`` serve ``retrieve``.
    Synchronous; see ``compare_generating_to_dir`` for what is written.
    """
    check_compare_strategy(strategy)
    runner = RubricGenerator(
        strategy, generator or judge, store=store, options=generate_options, bank=bank, k=k
    )
    comparer = GeneratingComparer(
        judge, runner, store=store, options=options, concurrency=concurrency, reasks=reasks
    )
    return run_sync(compare_generating_to_dir(comparer, pairs, out_dir, on_invalid=on_invalid))
