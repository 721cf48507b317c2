"""How a judge reacts to probes (master keys, injections, padding, rubric echo, order, re-asks).

Grades HealthBench examples with their physician-written ideal answers, then the probe
variants, through ``rubricate.meta.run_probes`` (the library half of ``rubricate probe``; the
graded answer is the ideal one, so ``position`` compares identical pairs), and
prints per probe the mean score change with its paired bootstrap 95% interval, the share of
flipped verdicts and the judge calls. The judge is any OpenAI-compatible server (--judge-url,
--judge-model) or, without --judge-url, the embedded llama.cpp model (--local-model).

    python bench/judge_probes.py [--data ../shared/data/healthbench_dev.jsonl] [--limit 30]
        [--max-criteria K] [--probes master_key,injection,...] [--local-model qwen2.5-coder-1.5b]
        [--judge-url URL --judge-model NAME] [--cache FILE] [--out DIR]

Selection: the first --limit examples of the file, in file order; --max-criteria keeps each
rubric's first K criteria (to fit a CPU budget; say so when quoting figures).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rubricate.backends import Judge
from rubricate.formats import read_healthbench
from rubricate.meta import PROBES, run_probes
from rubricate.rubric import Rubric
from rubricate.types import Sample

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "healthbench_dev.jsonl"


def load(path: Path, limit: int, max_criteria: int | None) -> list[Sample]:
    samples: list[Sample] = []
    for item in read_healthbench(path, response_source="ideal"):
        if isinstance(item, Exception):
            raise item
        if max_criteria is not None:
            rubric = item.rubric
            item = Sample(
                item.id,
                item.messages,
                Rubric(
                    id=rubric.id,
                    criteria=rubric.criteria[:max_criteria],
                    gate_floor=rubric.gate_floor,
                ),
                item.response,
                item.metadata,
            )
        samples.append(item)
        if len(samples) == limit:
            break
    return samples


def make_judge(args: argparse.Namespace) -> Judge:
    if args.judge_url:
        from rubricate.backends import create_openai_judge

        return create_openai_judge([args.judge_url], args.judge_model)
    from rubricate.backends.llamacpp import LlamaCppJudge
    from rubricate.models import resolve_model

    return LlamaCppJudge(resolve_model(args.local_model), n_ctx=4096, n_threads=args.threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--max-criteria", type=int, default=None)
    parser.add_argument("--probes", default=",".join(PROBES))
    parser.add_argument("--judge-url", default=None)
    parser.add_argument("--judge-model", default=None)
    parser.add_argument("--local-model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mode", default="per-criterion")
    parser.add_argument("--cache", type=Path, default=None, help="SQLite cache (resumable).")
    parser.add_argument("--out", type=Path, default=None, help="Where probes.json goes.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    samples = load(args.data, args.limit, args.max_criteria)
    n_criteria = sum(len(s.rubric.criteria) for s in samples)
    judge = make_judge(args)
    started = time.perf_counter()
    report = run_probes(
        samples,
        judge,
        args.out,
        probes=args.probes.split(","),
        mode=args.mode,
        seed=args.seed,
        store=args.cache,
    )
    elapsed = time.perf_counter() - started
    print(
        f"judge {judge.fingerprint}; {len(samples)} examples, {n_criteria} criteria; {elapsed:.0f} s"
    )
    print(f"{'probe':18} {'gain':>8} {'ci95':>19} {'flipped':>8} {'n':>5} {'calls':>6}")
    for name, outcome in report.probes.items():
        ci = outcome.gain.ci95
        interval = f"[{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "-"
        gain = f"{outcome.gain.value:+.3f}" if outcome.gain.value is not None else "-"
        flipped = f"{outcome.flipped:.3f}" if outcome.flipped is not None else "-"
        print(
            f"{name:18} {gain:>8} {interval:>19} {flipped:>8} {outcome.n:>5} {outcome.judge_calls:>6}"
        )
        for variant, figures in outcome.by_variant.items():
            value = figures["gain"]
            shown = f"{value:+.3f}" if value is not None else "-"
            print(f"  {variant[:40]:40} gain {shown}  flipped {figures['flipped']}")


if __name__ == "__main__":
    main()
