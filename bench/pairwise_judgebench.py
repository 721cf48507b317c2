"""Pairwise judging on JudgeBench: one order against both, holistic against criterion-wise.

One command, one judge, three ways of judging the same seeded sample of labelled pairs:

- holistic, one order: one call per pair, response A shown first (JudgeBench's single trial);
- holistic, both orders: the same call plus the swapped one; the net vote decides;
- criterion-wise, both orders: per order, each criterion of a fixed correctness rubric is
  asked (``RUBRIC`` below: the correct final answer, required, so it vetoes; sound reasoning;
  answering what was asked); points decide the order, the net vote the pair.

Accuracy follows JudgeBench's rule (a tie or an inconsistent pair is wrong, so chance is
below 0.5 in both-orders modes). Pair selection: the ``--pool`` shortest labelled pairs
(question + both responses, in characters), then a ``random.Random(--seed)`` sample of ``--n``
of them, kept in file order. Holistic both-orders reuses the one-order run's replies from the
cache; its calls, tokens and time per pair are reported with the one-order run's added, i.e.
as if run alone.

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
from pathlib import Path
from typing import Any

from rubricate.backends import close_judge
from rubricate.pairwise import (
    CompareOptions,
    Comparer,
    CompareSummary,
    Pair,
    compare_to_dir,
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


def _figures(summary: CompareSummary, base: CompareSummary | None = None) -> dict[str, Any]:
    n = max(summary.n_pairs, 1)
    calls = summary.counts.judge_calls + (base.counts.judge_calls if base else 0)
    tokens = summary.tokens
    prompt = tokens.prompt + (base.tokens.prompt if base else 0)
    cached = tokens.cached_prompt + (base.tokens.cached_prompt if base else 0)
    completion = tokens.completion + (base.tokens.completion if base else 0)
    elapsed = (summary.elapsed_s or 0.0) + ((base.elapsed_s or 0.0) if base else 0.0)
    return {
        "n_pairs": summary.n_pairs,
        "accuracy": summary.accuracy,
        "consistency": summary.consistency,
        "first_position_rate": summary.first_position_rate,
        "ties": summary.ties,
        "errors": summary.errors,
        "judge_calls": calls,
        "prompt_tokens_per_pair": round(prompt / n, 1),
        "cached_prompt_tokens_per_pair": round(cached / n, 1),
        "completion_tokens_per_pair": round(completion / n, 1),
        "wall_s_per_pair": round(elapsed / n, 2),
        "by_source": {k: v.accuracy for k, v in summary.by_source.items()},
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
    grading = settings.grade_options()
    modes = {
        "holistic_one_order": (CompareOptions(orders="one", mode="holistic"), None),
        "holistic_both_orders": (CompareOptions(orders="both", mode="holistic"), None),
        "criteria_both_orders": (CompareOptions(orders="both", mode="criteria"), RUBRIC),
    }
    results: dict[str, Any] = {}
    summaries: dict[str, CompareSummary] = {}
    try:
        with Store(out / "cache.sqlite") as store:
            for name, (options, rubric) in modes.items():
                sized = CompareOptions(
                    orders=options.orders, mode=options.mode, max_tokens=args.max_tokens
                )
                comparer = Comparer(
                    judge,
                    store=store,
                    options=sized,
                    concurrency=grading.concurrency,
                    reasks=args.reasks,
                )
                chosen = [
                    Pair(p.id, p.messages, p.response_a, p.response_b, p.label, p.source, rubric)
                    for p in pairs
                ]
                summaries[name] = await compare_to_dir(comparer, chosen, out / name)
                base = summaries["holistic_one_order"] if name == "holistic_both_orders" else None
                results[name] = _figures(summaries[name], base)
                print(name, json.dumps(results[name]), flush=True)
    finally:
        await close_judge(judge)
    return {
        "judge": judge.fingerprint,
        "n": len(pairs),
        "pool": args.pool,
        "seed": args.seed,
        "modes": results,
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
    parser.add_argument("--out", type=Path, help="also write the figures here (JSON)")
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    text = json.dumps(figures, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
