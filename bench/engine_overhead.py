"""Criteria per second through the whole engine with an instant in-process judge.

Plan, cache lookup and write (SQLite), prompt rendering, parse, score and results.jsonl
writing all run; only the judge is free. Figures are per core (criteria over the
process CPU time), with a baseline run in the same command: a bare loop that awaits the
same judge and parses its reply, with no engine around it.

    python bench/engine_overhead.py [--samples 2000] [--criteria 12] [--mode per-criterion]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from rubricate.backends.scripted import ScriptedJudge
from rubricate.engine import GradeOptions, Grader
from rubricate.judge import build_request, load_template, render_shared
from rubricate.rubric import Criterion, Rubric
from rubricate.runs import grade_to_dir
from rubricate.store import Store
from rubricate.types import Message, Sample

TARGET = 20_000


def make_samples(n: int, k: int) -> list[Sample]:
    response = "A reasonably long response. " * 40
    return [
        Sample(
            id=f"s{i}",
            messages=(Message("user", f"Question number {i}: what should I do?"),),
            rubric=Rubric(
                id=f"s{i}",
                criteria=tuple(
                    Criterion(
                        id=f"c{j}",
                        text=f"Criterion {j} of sample {i}",
                        points=(-3 if j % 5 == 4 else j % 7 + 1),
                        tags=("axis:accuracy" if j % 2 else "axis:completeness",),
                    )
                    for j in range(k)
                ),
            ),
            response=response + str(i),
        )
        for i in range(n)
    ]


_MET, _NOT_MET = '{"verdict": "met"}', '{"verdict": "not_met"}'


def instant_reply(request) -> str:
    """Answer at once, varied by criterion so scores are not constant."""
    return _MET if len(request.criterion_ids[0]) % 2 else _NOT_MET


async def engine_run(samples: list[Sample], mode: str, workdir: Path) -> tuple[float, float, int]:
    judge = ScriptedJudge(reply=instant_reply)
    workdir.mkdir(parents=True, exist_ok=True)
    store = Store(workdir / "cache.sqlite")
    grader = Grader(judge, store=store, options=GradeOptions(mode=mode, concurrency=64))  # type: ignore[arg-type]
    wall, cpu = time.perf_counter(), time.process_time()
    summary = await grade_to_dir(grader, samples, workdir / "run")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    store.close()
    return wall, cpu, summary.counts.criteria


async def baseline_run(samples: list[Sample], mode: str) -> tuple[float, float, int]:
    """The judge awaited and its reply decoded per call, nothing else (requests prebuilt)."""
    judge = ScriptedJudge(reply=instant_reply)
    template = load_template(mode)  # type: ignore[arg-type]
    size = 1 if mode == "per-criterion" else 4
    requests = []
    for sample in samples:
        shared = render_shared(sample)
        criteria = sample.rubric.criteria
        for start in range(0, len(criteria), size):
            requests.append(
                build_request(template, shared, criteria[start : start + size], max_tokens=32)
            )
    wall, cpu = time.perf_counter(), time.process_time()
    for request in requests:
        reply = await judge.complete(request)
        json.loads(reply.text)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu, sum(len(s.rubric.criteria) for s in samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--criteria", type=int, default=12)
    parser.add_argument("--mode", default="per-criterion", choices=["per-criterion", "grouped"])
    args = parser.parse_args()
    samples = make_samples(args.samples, args.criteria)
    with tempfile.TemporaryDirectory() as tmp:
        e_wall, e_cpu, n = asyncio.run(engine_run(samples, args.mode, Path(tmp)))
        _b_wall, b_cpu, _ = asyncio.run(baseline_run(samples, args.mode))
    engine_rate = n / e_cpu
    baseline_rate = n / b_cpu
    print(f"mode {args.mode}: {args.samples} samples x {args.criteria} criteria = {n} criteria")
    print(f"engine    {engine_rate:10.0f} criteria/s per core  ({n / e_wall:.0f}/s wall)")
    print(f"baseline  {baseline_rate:10.0f} criteria/s per core  (bare judge awaits + JSON decode)")
    print(f"engine / baseline cost ratio: {baseline_rate / engine_rate:.2f}x")
    print(
        f"engine / target ({TARGET}/s): {engine_rate / TARGET:.2f}x  -> {'PASS' if engine_rate >= TARGET else 'BELOW TARGET'}"
    )


if __name__ == "__main__":
    main()
