"""Pairwise judging on JudgeBench: one order against both, holistic against criterion-wise.

One command, one judge, three ways of judging the same seeded sample of labelled pairs:

- holistic, one order: one call per pair, response A shown first (JudgeBench's single trial);
- holistic, both orders: the same call plus the swapped one; the net vote decides;
- criterion-wise, both orders: per order, each criterion of a fixed correctness rubric is
  asked (``RUBRIC`` below: the correct final answer, required, so it vetoes; sound reasoning;
  answering what was asked); points decide the order, the net vote the pair;
- criterion-wise, generated rubric (``--modes ... criteria_generated_both_orders``, off by
  default): the judge first writes a rubric from each prompt (``from-prompt``; an essential
  hard rule is required, so it vetoes), then compares by it; generation calls and tokens are
  reported beside the comparison's.

Accuracy follows JudgeBench's rule (a tie or an inconsistent pair is wrong, so chance is
below 0.5 in both-orders modes). Pair selection: the ``--pool`` shortest labelled pairs
(question + both responses, in characters), then a ``random.Random(--seed)`` sample of ``--n``
of them, kept in file order. Holistic both-orders reuses the one-order run's replies from the
cache; its calls, tokens and time per pair are reported with the one-order run's added, i.e.
as if run alone. Pairs are judged one after another in all three modes, so that a run
stopped by ``--deadline-min`` still compares the modes on the same pairs.

With no ``--judge-url`` the judge is the embedded llama.cpp model (``--local-model``,
default Qwen2.5-Coder-1.5B, installed with ``rubricate models install``); any
OpenAI-compatible server works with ``--judge-url URL --judge-model NAME``::

    .venv/bin/python bench/pairwise_judgebench.py --n 40
    .venv/bin/python bench/pairwise_judgebench.py --n 350 --pool 350 --judge-url http://127.0.0.1:8000/v1 --judge-model NAME
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rubricate.backends import close_judge
from rubricate.generate import GeneratingComparer, RubricGenerator
from rubricate.pairwise import (
    CompareMode,
    CompareOptions,
    Comparer,
    FigureTally,
    Orders,
    Pair,
    read_pairs,
)
from rubricate.rubric import Criterion, Rubric
from rubricate.settings import Settings, build_judge
from rubricate.store import Store

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "judgebench_gpt-4o.jsonl"

RUBRIC = Rubric(
    id="judgebench-correctness",
    criteria=(
        Criterion(
            id="correct",
            text="Reaches the correct final answer to the question (or, for code, a correct program).",
            points=5,
            required=True,
        ),
        Criterion(
            id="sound",
            text="Its reasoning, calculations or code contain no errors.",
            points=3,
        ),
        Criterion(
            id="direct",
            text="Answers exactly what was asked, in the form the question requests.",
            points=1,
        ),
    ),
)


def select_pairs(path: Path, n: int, pool: int, seed: int) -> list[Pair]:
    """The ``pool`` shortest labelled pairs, then a seeded sample of ``n``, in file order."""
    pairs = []
    for item in read_pairs(path):
        if isinstance(item, Exception):
            raise item
        if item.label is not None:
            pairs.append(item)
    size = {p.id: len(p.messages[0].content) + len(p.response_a) + len(p.response_b) for p in pairs}
    shortest = sorted(pairs, key=lambda p: size[p.id])[:pool]
    chosen = {p.id for p in random.Random(seed).sample(shortest, min(n, len(shortest)))}
    return [p for p in pairs if p.id in chosen]


@dataclass
class _Mode:
    """One way of judging, run pair by pair so every mode has judged the same pairs."""

    options: CompareOptions
    rubric: Rubric | None
    comparer: Comparer
    tally: FigureTally = field(default_factory=FigureTally)
    elapsed_s: float = 0.0


MODES = (
    "holistic_one_order",
    "holistic_both_orders",
    "criteria_both_orders",
    "criteria_generated_both_orders",
)


def _figures(mode: _Mode, base: _Mode | None = None) -> dict[str, Any]:
    figures = mode.tally.figures()
    n = max(figures.n_pairs, 1)
    counts = [mode.comparer.calls.counts] + ([base.comparer.calls.counts] if base else [])
    elapsed = mode.elapsed_s + (base.elapsed_s if base else 0.0)
    return {
        "n_pairs": figures.n_pairs,
        "accuracy": figures.accuracy,
        "consistency": figures.consistency,
        "first_position_rate": figures.first_position_rate,
        "ties": figures.ties,
        "errors": figures.errors,
        "judge_calls": sum(c.calls for c in counts),
        "prompt_tokens_per_pair": round(sum(c.tokens.prompt for c in counts) / n, 1),
        "cached_prompt_tokens_per_pair": round(sum(c.tokens.cached_prompt for c in counts) / n, 1),
        "completion_tokens_per_pair": round(sum(c.tokens.completion for c in counts) / n, 1),
        "wall_s_per_pair": round(elapsed / n, 2),
        "by_source": {k: v.accuracy for k, v in mode.tally.by_source().items()},
        **_generation_figures(mode.comparer, n),
    }


def _generation_figures(comparer: Comparer, n: int) -> dict[str, Any]:
    generation = comparer.rubric_generation()
    if generation is None:
        return {}
    return {
        "generated_rubrics": generation.generated,
        "generation_failures": generation.failed,
        "generation_calls": generation.calls,
        "generation_prompt_tokens_per_pair": round(generation.tokens.prompt / n, 1),
        "generation_completion_tokens_per_pair": round(generation.tokens.completion / n, 1),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    given = {
        "judge_urls": args.judge_url or None,
        "judge_model": args.judge_model,
        "local_model": args.local_model,
        "threads": args.threads,
        "context": args.context,
    }
    settings = Settings.load({"judge": given}).judge
    judge = build_judge(settings)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pairs = select_pairs(Path(args.data), args.n, args.pool, args.seed)
    concurrency = settings.grade_options().concurrency
    started = time.monotonic()
    stopped_early = False
    try:
        with Store(out / "cache.sqlite") as store:

            def mode(
                orders: Orders, by: CompareMode, rubric: Rubric | None, generate: bool = False
            ) -> _Mode:
                options = CompareOptions(orders=orders, mode=by, max_tokens=args.max_tokens)
                if generate:
                    writer = RubricGenerator("from-prompt", judge, store=store)
                    comparer: Comparer = GeneratingComparer(
                        judge, writer, store=store, options=options,
                        concurrency=concurrency, reasks=args.reasks,
                    )  # fmt: skip
                else:
                    comparer = Comparer(
                        judge, store=store, options=options,
                        concurrency=concurrency, reasks=args.reasks,
                    )  # fmt: skip
                return _Mode(options, rubric, comparer)

            # Holistic one-order first: both-orders then finds its first order in the cache.
            every = {
                "holistic_one_order": lambda: mode("one", "holistic", None),
                "holistic_both_orders": lambda: mode("both", "holistic", None),
                "criteria_both_orders": lambda: mode("both", "criteria", RUBRIC),
                "criteria_generated_both_orders": lambda: mode("both", "criteria", None, True),
            }
            modes = {name: every[name]() for name in MODES if name in args.modes}
            files = {}
            for name in modes:
                (out / name).mkdir(exist_ok=True)
                files[name] = (out / name / "pairs.jsonl").open("w", encoding="utf-8")
            for index, pair in enumerate(pairs):
                if args.deadline_min and time.monotonic() - started > 60 * args.deadline_min:
                    stopped_early = True
                    break
                for name, judged in modes.items():
                    posed = Pair(pair.id, pair.messages, pair.response_a, pair.response_b,
                                 pair.label, pair.source, judged.rubric)  # fmt: skip
                    began = time.perf_counter()
                    line = await judged.comparer.compare_pair(posed)
                    judged.elapsed_s += time.perf_counter() - began
                    judged.comparer.flush()
                    judged.tally.add(line)
                    files[name].write(line.model_dump_json() + "\n")
                    files[name].flush()
                print(f"pair {index + 1}/{len(pairs)} done", flush=True)
            for handle in files.values():
                handle.close()
    finally:
        await close_judge(judge)
    one = modes.get("holistic_one_order")
    first = next(iter(modes.values()))
    return {
        "judge": judge.fingerprint,
        "n_selected": len(pairs),
        "n_judged": first.tally.figures().n_pairs,
        "stopped_by_deadline": stopped_early,
        "pool": args.pool,
        "seed": args.seed,
        "modes": {
            name: _figures(judged, one if name == "holistic_both_orders" else None)
            for name, judged in modes.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--n", type=int, default=40, help="pairs to sample")
    parser.add_argument("--pool", type=int, default=80, help="sample from this many shortest")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--judge-url", action="append", help="OpenAI-compatible base URL (…/v1)")
    parser.add_argument("--judge-model")
    parser.add_argument("--local-model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--threads", type=int, default=None, help="local judge CPU threads")
    parser.add_argument("--context", type=int, default=8192)
    parser.add_argument("--reasks", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=24, help="per call (JSON answers)")
    parser.add_argument("--out-dir", default=str(ROOT / "runs" / "bench-pairwise"))
    parser.add_argument(
        "--deadline-min",
        type=float,
        default=None,
        help="start no new pair after this many minutes (figures cover the pairs judged)",
    )
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=MODES,
        default=list(MODES[:3]),
        help="ways of judging to run (default: the first three)",
    )
    parser.add_argument("--out", type=Path, help="also write the figures here (JSON)")
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    text = json.dumps(figures, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
