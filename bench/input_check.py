"""What the input pre-pass of `rubricate grade` costs: its time over the grading read alone.

`grade --on-invalid skip --response-source ideal` (as in tests/integration/test_resume.py)
reads its data twice: once to check every line (``rubricate.runs.check_input``, before
the first judge call) and once to grade. The baseline is that second read by itself (every
sample parsed and validated by the reader, nothing else); the pre-pass is the same read plus
its checks and counts. Alternating rounds, best of ``--rounds`` kept for each. Memory: the
pre-pass's peak (tracemalloc) on the file and on the file repeated ``--repeat`` times (ids
renamed), beside the peak of holding the samples in a list, to show it stays flat.

    PYTHONPATH=src python bench/input_check.py [--data FILE] [--rounds 5] [--repeat 4]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from rubricate.formats import read_samples
from rubricate.runs import check_input

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "healthbench_dev.jsonl"


def read_alone(path: Path) -> int:
    return sum(1 for _ in read_samples(path, response_source="ideal"))


def pre_pass(path: Path) -> int:
    items = read_samples(path, response_source="ideal")
    return check_input(items, on_invalid="skip", source=str(path)).samples


def best_cpu(run: Callable[[], int]) -> float:
    start = time.process_time()
    run()
    return time.process_time() - start


def peak_mib(run: Callable[[], object]) -> float:
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def repeated(path: Path, times: int, folder: Path) -> Path:
    target = folder / f"x{times}.jsonl"
    with target.open("w", encoding="utf-8", errors="surrogateescape") as out:
        for copy in range(times):
            for line in path.read_text(encoding="utf-8", errors="surrogateescape").splitlines():
                try:
                    record = json.loads(line)
                    record["prompt_id"] = f"{record['prompt_id']}-{copy}"
                    line = json.dumps(record)
                except (ValueError, TypeError, KeyError):
                    pass  # a bad line stays bad: the readers skip it in every copy
                out.write(line + "\n")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=4)
    args = parser.parse_args()
    data: Path = args.data
    lines = read_alone(data)
    checked = check_input(read_samples(data, response_source="ideal"), on_invalid="skip")
    reads, checks = [], []
    for _ in range(args.rounds):
        reads.append(best_cpu(lambda: read_alone(data)))
        checks.append(best_cpu(lambda: pre_pass(data)))
    read_s, check_s = min(reads), min(checks)
    print(
        f"{data.name}: {lines} lines, {data.stat().st_size / 2**20:.1f} MiB: {checked.samples} "
        f"samples ({checked.criteria} criteria), {checked.invalid} lines to skip"
    )
    print(f"best of {args.rounds} alternating rounds, CPU seconds per pass")
    print(f"  grading read alone   {read_s:8.3f} s")
    print(f"  pre-pass (checked)   {check_s:8.3f} s")
    print(f"  pre-pass / read      {check_s / read_s:8.2f}x")
    print(f"  input reading in all {(read_s + check_s) / read_s:8.2f}x the read alone")
    with tempfile.TemporaryDirectory() as folder:
        bigger = repeated(data, args.repeat, Path(folder))
        print("peak memory (tracemalloc), MiB")
        for path, label in ((data, "1x"), (bigger, f"{args.repeat}x")):
            flat = peak_mib(lambda p=path: pre_pass(p))  # type: ignore[misc]
            held = peak_mib(lambda p=path: list(read_samples(p, response_source="ideal")))  # type: ignore[misc]
            print(f"  {label:>3} file: pre-pass {flat:7.1f}   samples held in a list {held:7.1f}")


if __name__ == "__main__":
    main()
