"""How a judge reacts to probes (master keys, injections, padding, rubric echo, order, re-asks).

Grades HealthBench examples with their physician-written ideal answers, then the probe
variants, through ``rubricate.meta.run_probes`` (the library half of ``rubricate probe``; the
graded answer is the ideal one, so ``position`` compares identical pairs), and
prints per probe the mean score change with its paired bootstrap 95% interval, the share of
flipped verdicts and the judge calls. The judge is any OpenAI-compatible server (--judge-url,
--judge-model) or, without --judge-url, the embedded llama.cpp model (--local-model).

    python bench/judge_probes.py [--data ../shared/data/healthbench_dev.jsonl] [--limit 30]
        [--max-criteria K] [--shortest] [--probes master_key,injection,...] [--local-model qwen2.5-coder-1.5b]
        [--judge-url URL --judge-model NAME] [--cache FILE] [--out DIR]

Selection: the first --limit examples of the file, in file order; with --shortest, the --limit
examples whose conversation plus ideal answer is shortest in characters (ties by file order),
kept in file order; examples without an ideal answer are left out either way (counted).
--max-criteria keeps each rubric's first K criteria (to fit a CPU budget; say so when quoting
figures).
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


def _size(sample: Sample) -> int:
    return sum(len(m.content) for m in sample.messages) + len(sample.response or "")


def load(
    path: Path, limit: int, max_criteria: int | None, shortest: bool = False
) -> tuple[list[Sample], int]:
    """The selected examples, and how many lines were left out for lacking an ideal answer."""
    samples: list[Sample] = []
    without_ideal = 0
    for item in read_healthbench(path, response_source="ideal"):
        if isinstance(item, Exception):
            if "ideal_completion" not in str(item):
                raise item
            without_ideal += 1
            continue
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
        if not shortest and len(samples) == limit:
            break
    if shortest:
        # sorted() is stable, so equal sizes keep file order; then back to file order.
        chosen = sorted(range(len(samples)), key=lambda i: _size(samples[i]))[:limit]
        samples = [samples[i] for i in sorted(chosen)]
    return samples, without_ideal


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
    parser.add_argument(
        "--shortest", action="store_true", help="the --limit shortest examples, not the first"
    )
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
    samples, without_ideal = load(args.data, args.limit, args.max_criteria, args.shortest)
    n_criteria = sum(len(s.rubric.criteria) for s in samples)
    print(
        f"{len(samples)} examples ({'shortest' if args.shortest else 'first'} with an ideal "
        f"answer; {without_ideal} lines without one left out), {n_criteria} criteria"
    )
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
        # One call at a time, as `rubricate grade` runs a local judge: its KV cache then keeps
        # each sample's conversation and response for the next criterion (concurrent calls
        # would interleave samples and re-read them every call).
        grade_options=None if args.judge_url else {"concurrency": 1},
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
