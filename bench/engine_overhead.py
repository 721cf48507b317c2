"""Criteria per second through the whole engine with an instant in-process judge, old against new.

Plan, cache lookup and write (SQLite), prompt rendering, parse, score and results.jsonl
writing all run; only the judge is free. Figures are per core (criteria over the process CPU
time), each beside a baseline measured in the same process: a bare loop that awaits the same
judge and parses its reply, with no engine around it.

One command measures this checkout's engine and the one at each ``--against`` (a git revision,
unpacked from the repository with ``git archive`` into a temporary folder; give it more than
once to measure several). Each runs in its own child process, in alternating rounds; the best
and the median round of each are reported, and each old engine's results.jsonl is compared
with the new one's byte for byte (when they differ, the fields one side lacks, at any depth,
are named and the rest compared). The share of the engine's CPU time spent in the garbage collector is shown
beside each figure; ``--freeze-samples`` keeps collections from walking the prebuilt samples.

    python bench/engine_overhead.py [--against REV ...] [--samples 2000] [--criteria 12]
        [--mode per-criterion] [--rounds 3] [--freeze-samples]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import statistics
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
# Grouped replies by the ids asked for: every sample asks for the same groups, so the judge's
# own cost stays near nothing, as in per-criterion mode.
_GROUPED: dict[tuple[str, ...], str] = {}


def _label(criterion_id: str) -> str:
    return "met" if len(criterion_id) % 2 else "not_met"


def instant_reply(request) -> str:
    """Answer at once in the format asked for, varied by criterion so scores are not constant.

    A grouped request gets a grouped reply: answered in the per-criterion format, every
    grouped call would be unparseable, re-asked twice and end in error verdicts (what this
    benchmark measured in grouped mode until 2026-12-02).
    """
    ids = request.criterion_ids
    if len(ids) == 1:
        return _MET if _label(ids[0]) == "met" else _NOT_MET
    reply = _GROUPED.get(ids)
    if reply is None:
        verdicts = [{"id": i, "verdict": _label(i)} for i in ids]
        reply = _GROUPED[ids] = json.dumps({"verdicts": verdicts})
    return reply


async def engine_run(samples: list[Sample], mode: str, workdir: Path) -> tuple[float, float, int]:
    judge = ScriptedJudge(reply=instant_reply)
    workdir.mkdir(parents=True, exist_ok=True)
    store = Store(workdir / "cache.sqlite")
    grader = Grader(judge, store=store, options=GradeOptions(mode=mode, concurrency=64))  # type: ignore[arg-type]
    wall, cpu = time.perf_counter(), time.process_time()
    summary = await grade_to_dir(grader, samples, workdir / "run")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    store.close()
    counts = summary.counts
    if counts.errors or counts.unparseable_replies:
        # Figures of a run whose verdicts failed would measure the failure path.
        raise SystemExit(
            f"the engine run is not clean: {counts.errors} error verdicts, "
            f"{counts.unparseable_replies} unparseable replies"
        )
    return wall, cpu, counts.criteria


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


class GcClock:
    """CPU time spent in the cyclic garbage collector (a ``gc.callbacks`` entry).

    Part of the engine's cost that no profile shows: collections run when allocations pile
    up, and a full one walks every live object (here also the prebuilt samples)."""

    def __init__(self) -> None:
        self.cpu = 0.0
        self._start = 0.0

    def __call__(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.process_time()
        else:
            self.cpu += time.process_time() - self._start


def measure(args: argparse.Namespace) -> dict[str, object]:
    """One round in this process: engine and baseline figures; results.jsonl kept at ``--keep``."""
    samples = make_samples(args.samples, args.criteria)
    if args.freeze_samples:
        # The prebuilt samples are the benchmark's own fixture: a streamed run holds only the
        # samples in flight, so its full collections do not walk the whole dataset.
        gc.collect()
        gc.freeze()
    in_gc = GcClock()
    with tempfile.TemporaryDirectory() as tmp:
        gc.callbacks.append(in_gc)
        try:
            e_wall, e_cpu, n = asyncio.run(engine_run(samples, args.mode, Path(tmp)))
        finally:
            gc.callbacks.remove(in_gc)
        if args.keep:
            shutil.copyfile(Path(tmp) / "run" / "results.jsonl", args.keep)
    _b_wall, b_cpu, _ = asyncio.run(baseline_run(samples, args.mode))
    import rubricate

    return {
        "criteria": n,
        "engine_cpu": e_cpu,
        "engine_gc_cpu": in_gc.cpu,
        "engine_wall": e_wall,
        "baseline_cpu": b_cpu,
        "source": str(Path(rubricate.__file__).resolve().parents[1]),
    }


def shared_fields(left: object, right: object, path: str, one_side: dict[str, set[str]]) -> bool:
    """Whether ``left`` and ``right`` agree on every field both have, in the same order, at
    any depth (list items compared pairwise); fields only one side has are noted by path
    (``verdicts[].judged``) in ``one_side["old"]`` or ``one_side["new"]``."""
    if isinstance(left, dict) and isinstance(right, dict):
        for key in left.keys() - right.keys():
            one_side["old"].add(f"{path}{key}")
        for key in right.keys() - left.keys():
            one_side["new"].add(f"{path}{key}")
        order = [k for k in left if k in right]
        if order != [k for k in right if k in left]:
            return False
        return all(shared_fields(left[k], right[k], f"{path}{k}.", one_side) for k in order)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(
            shared_fields(a, b, f"{path.rstrip('.')}[].", one_side)
            for a, b in zip(left, right, strict=True)
        )
    return type(left) is type(right) and left == right


def compare_results(old: Path, new: Path) -> str:
    """``identical`` (byte for byte), or what differs between two results.jsonl files."""
    if old.read_bytes() == new.read_bytes():
        return "identical"
    old_lines = old.read_text("utf-8").splitlines()
    new_lines = new.read_text("utf-8").splitlines()
    if len(old_lines) != len(new_lines):
        return f"DIFFERENT: {len(old_lines)} lines against {len(new_lines)}"
    one_side: dict[str, set[str]] = {"old": set(), "new": set()}
    for number, (a, b) in enumerate(zip(old_lines, new_lines, strict=True), start=1):
        if not shared_fields(json.loads(a), json.loads(b), "", one_side):
            return f"DIFFERENT from line {number} on"
    lacks = ", ".join(sorted(one_side["new"])) or "-"
    extra = ", ".join(sorted(one_side["old"])) or "-"
    return f"equal in every shared field, in order; only new writes: {lacks}; only old: {extra}"


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


def child_round(source: Path, args: argparse.Namespace, keep: Path) -> dict[str, float | int | str]:
    env = {**os.environ, "PYTHONPATH": str(source)}
    command = [sys.executable, __file__, "--measure", "--samples", str(args.samples)]
    command += ["--criteria", str(args.criteria), "--mode", args.mode, "--keep", str(keep)]
    command += ["--freeze-samples"] if args.freeze_samples else []
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
    parser.add_argument(
        "--against",
        action="append",
        help=f"git revision of an old engine (repeatable; default {DEFAULT_AGAINST})",
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per engine")
    parser.add_argument(
        "--freeze-samples",
        action="store_true",
        help="gc.freeze() the prebuilt samples, so collections walk only what the engine made",
    )
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--keep", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        sides: dict[str, tuple[Path, str]] = {}
        for index, revision in enumerate(args.against or [DEFAULT_AGAINST]):
            into = Path(tmp) / f"old{index}"
            into.mkdir()
            source, commit = unpack(revision, into)
            sides[f"old{index + 1}" if args.against and len(args.against) > 1 else "old"] = (
                source,
                commit[:12],
            )
        sides["new"] = (ROOT / "src", current_commit())
        rounds: dict[str, list[dict[str, float | int | str]]] = {name: [] for name in sides}
        for _ in range(max(1, args.rounds)):
            for name, (source, _commit) in sides.items():
                rounds[name].append(child_round(source, args, Path(tmp) / f"{name}.jsonl"))
        comparisons = {
            name: compare_results(Path(tmp) / f"{name}.jsonl", Path(tmp) / "new.jsonl")
            for name in sides
            if name != "new"
        }
    n = int(rounds["new"][0]["criteria"])
    print(f"mode {args.mode}: {args.samples} samples x {args.criteria} criteria = {n} criteria")
    print(f"{args.rounds} alternating rounds per engine, each in its own process; best round shown")
    if args.freeze_samples:
        print("prebuilt samples frozen (gc.freeze): collections walk only what the engines made")
    print(
        f"{'engine':<6} {'commit':<34} {'criteria/s/core':>15} {'wall/s':>8} "
        f"{'baseline/s/core':>15} {'cost ratio':>10} {'median ratio':>12} {'in gc':>6}"
    )
    ratios, rates = {}, {}
    for name, (_source, commit) in sides.items():
        best = min(rounds[name], key=lambda figures: float(figures["engine_cpu"]))
        rates[name] = n / float(best["engine_cpu"])
        base = n / float(best["baseline_cpu"])
        ratios[name] = base / rates[name]
        wall = n / float(best["engine_wall"])
        median = statistics.median(
            float(r["engine_cpu"]) / float(r["baseline_cpu"]) for r in rounds[name]
        )
        print(
            f"{name:<6} {commit:<34} {rates[name]:>15.0f} {wall:>8.0f} {base:>15.0f} "
            f"{ratios[name]:>9.2f}x {median:>11.2f}x "
            f"{float(best['engine_gc_cpu']) / float(best['engine_cpu']):>6.0%}"
        )
    for name in comparisons:
        print(
            f"new engine speed / {name} engine speed, per core: {rates['new'] / rates[name]:.2f}x"
        )
    print("in gc: share of the engine's CPU time spent in the cyclic garbage collector")
    print(f"target: cost ratio <= 10x -> new {'PASS' if ratios['new'] <= 10 else 'ABOVE TARGET'}")
    for name, verdict in comparisons.items():
        print(f"results.jsonl of {name} and new: {verdict}")


if __name__ == "__main__":
    main()
