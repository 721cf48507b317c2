"""Criteria per second through the whole engine with an instant in-process judge, old against new.

Plan, cache lookup and write (SQLite), prompt rendering, parse, score and results.jsonl
writing all run; only the judge is free. Figures are per core (criteria over the process CPU
time), each beside a baseline measured in the same process: a bare loop that awaits the same
judge and parses its reply, with no engine around it.

One command measures two engines: this checkout's and the one at ``--against`` (a git
revision, unpacked from the repository with ``git archive`` into a temporary folder). Each runs
in its own child process, in alternating rounds; the best round of each is reported, and the
two results.jsonl files are compared byte for byte.

    python bench/engine_overhead.py [--against REV] [--samples 2000] [--criteria 12]
        [--mode per-criterion] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import subprocess
import sys
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


ROOT = Path(__file__).resolve().parents[1]
# The last commit before the cached-call engine (engine/_calls.py) replaced the Grader's own.
DEFAULT_AGAINST = "bdaf030"


def measure(args: argparse.Namespace) -> dict[str, object]:
    """One round in this process: engine and baseline figures, and the results' hash."""
    samples = make_samples(args.samples, args.criteria)
    with tempfile.TemporaryDirectory() as tmp:
        e_wall, e_cpu, n = asyncio.run(engine_run(samples, args.mode, Path(tmp)))
        digest = hashlib.sha256((Path(tmp) / "run" / "results.jsonl").read_bytes()).hexdigest()
    _b_wall, b_cpu, _ = asyncio.run(baseline_run(samples, args.mode))
    import rubricate

    return {
        "criteria": n,
        "engine_cpu": e_cpu,
        "engine_wall": e_wall,
        "baseline_cpu": b_cpu,
        "results_sha256": digest,
        "source": str(Path(rubricate.__file__).resolve().parents[1]),
    }


def unpack(revision: str, into: Path) -> tuple[Path, str]:
    """``src/`` of ``revision`` unpacked under ``into``; returns it and the full commit id."""
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", f"{revision}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit, "src"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src", commit


def child_round(source: Path, args: argparse.Namespace) -> dict[str, float | int | str]:
    env = {**os.environ, "PYTHONPATH": str(source)}
    command = [sys.executable, __file__, "--measure", "--samples", str(args.samples)]
    command += ["--criteria", str(args.criteria), "--mode", args.mode]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the run with {source} failed:\n{done.stderr}")
    figures: dict[str, float | int | str] = json.loads(done.stdout)
    if Path(str(figures["source"])) != source.resolve():
        raise SystemExit(f"the child imported rubricate from {figures['source']}, not {source}")
    return figures


def current_commit() -> str:
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "src"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return head[:12] + (" (+ uncommitted changes)" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--criteria", type=int, default=12)
    parser.add_argument("--mode", default="per-criterion", choices=["per-criterion", "grouped"])
    parser.add_argument("--against", default=DEFAULT_AGAINST, help="git revision of the old engine")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; best one kept")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        old_source, old_commit = unpack(args.against, Path(tmp))
        sides = {"old": (old_source, old_commit[:12]), "new": (ROOT / "src", current_commit())}
        best: dict[str, dict[str, float | int | str]] = {}
        for _ in range(max(1, args.rounds)):
            for name, (source, _commit) in sides.items():
                figures = child_round(source, args)
                kept = best.get(name)
                if kept is None or float(figures["engine_cpu"]) < float(kept["engine_cpu"]):
                    best[name] = figures
    n = int(best["new"]["criteria"])
    print(f"mode {args.mode}: {args.samples} samples x {args.criteria} criteria = {n} criteria")
    print(f"best of {args.rounds} alternating rounds per engine, each in its own process")
    print(
        f"{'engine':<5} {'commit':<34} {'criteria/s/core':>15} {'wall/s':>8} {'baseline/s/core':>15} {'cost ratio':>10}"
    )
    ratios, rates = {}, {}
    for name, (_source, commit) in sides.items():
        figures = best[name]
        rates[name] = n / float(figures["engine_cpu"])
        base = n / float(figures["baseline_cpu"])
        ratios[name] = base / rates[name]
        wall = n / float(figures["engine_wall"])
        print(
            f"{name:<5} {commit:<34} {rates[name]:>15.0f} {wall:>8.0f} {base:>15.0f} "
            f"{ratios[name]:>9.2f}x"
        )
    print(f"new engine speed / old engine speed, per core: {rates['new'] / rates['old']:.2f}x")
    print(f"target: cost ratio <= 10x -> new {'PASS' if ratios['new'] <= 10 else 'ABOVE TARGET'}")
    same = best["old"]["results_sha256"] == best["new"]["results_sha256"]
    print(f"results.jsonl of old and new: {'identical' if same else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
