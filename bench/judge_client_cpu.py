"""Client CPU per judge call: rubricate's own HTTP pool against httpx, in one command.

Both runs use the judge ``create_openai_judge`` builds (``OpenAIJudge`` inside retries and
call slots) against the same stub judge (``tests.support.judge_server``, a separate process
on loopback, no latency) with the same requests and concurrency; the httpx run is the
baseline (``OpenAIJudge`` on its httpx path, the one it takes behind a proxy and the only one
it had before its own pool). Reported: this process's CPU time per call, for each and as a
ratio.

    python bench/judge_client_cpu.py [--calls 3000] [--concurrency 64] [--rounds 3]

Run from the repository root (the stub judge lives in ``tests/support``).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

from rubricate.backends import Resilient, create_openai_judge
from rubricate.backends.openai import OpenAIJudge
from rubricate.types import JudgeRequest, Message

ROOT = Path(__file__).resolve().parents[1]


def _request(index: int) -> JudgeRequest:
    text = (
        f'{"context " * 250}\n<criterion id="c{index % 50}">Mentions item {index % 7}</criterion>'
    )
    return JudgeRequest(messages=(Message("user", text),), criterion_ids=(f"c{index % 50}",))


async def _cpu_ms_per_call(judge: Resilient, calls: int, warm: int) -> float:
    async with judge:
        await asyncio.gather(*(judge.complete(_request(i)) for i in range(warm)))
        start = time.process_time()
        await asyncio.gather(*(judge.complete(_request(i)) for i in range(calls)))
        return 1000 * (time.process_time() - start) / calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="best of this many per client")
    args = parser.parse_args()
    stub = subprocess.Popen(
        [sys.executable, "-m", "tests.support.judge_server", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = stub.stdout.readline().strip()  # type: ignore[union-attr]
        best: dict[str, float] = {}
        for _ in range(args.rounds):  # alternate, so load changes hit both alike
            for name in ("httpx", "rubricate"):
                judge = create_openai_judge(url, "stub", concurrency=args.concurrency)
                assert isinstance(judge, Resilient) and isinstance(judge.provider, OpenAIJudge)
                judge.provider.uses_httpx = name == "httpx"  # as if the URL were behind a proxy
                value = asyncio.run(_cpu_ms_per_call(judge, args.calls, args.concurrency))
                best[name] = min(best.get(name, value), value)
    finally:
        stub.terminate()
        stub.wait(timeout=30)
    print(f"{args.calls} calls, {args.concurrency} in flight, best of {args.rounds}")
    print(f"httpx (baseline)   {best['httpx']:.3f} ms CPU per call")
    print(f"rubricate pool     {best['rubricate']:.3f} ms CPU per call")
    print(f"rubricate / httpx  {best['rubricate'] / best['httpx']:.3f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
