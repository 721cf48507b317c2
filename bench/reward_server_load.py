"""A GRPO-sized step against ``rubricate serve``: concurrent OpenRLHF ``/get_reward`` requests.

Three processes on loopback: the fake judge (``tests.support.judge_server``, fixed latency per
call and a cap on calls it serves at once), the reward server (``python -m rubricate serve``)
and this load generator. Each step sends ``--rollouts`` requests at once (one rollout each, as
OpenRLHF's executor does), ``--group-size`` completions per prompt, ``--criteria`` per rubric;
every step uses fresh completions, so nothing comes from the cache. Reports per step: time as a
ratio to the ideal bound ceil(judgments / cap) x latency (and to the same bound over the calls
the judge served, retries included), p50 / p99 request latency, errors
(HTTP failures and criteria left without a verdict), CPU seconds of the reward server and the
judge and this load generator, and the server's resident memory (current and peak).

    python bench/reward_server_load.py [--steps 10] [--latency 0.2] [--cap 64] [--fault-rate 0.1]
        [--hedge-after 1.0]
    python bench/reward_server_load.py --rollouts 8192 --cap 512 --steps 3   # production scale

Run from the repository root (the judge server lives in ``tests/support``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from rubricate.backends import HttpPool

ROOT = Path(__file__).resolve().parents[1]
logger = logging.getLogger("bench.reward_server_load")

CHATML = "<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _memory_mib(pid: int) -> tuple[float, float]:
    """(current, peak) resident set size of ``pid`` in MiB, from /proc."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far."""
    parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def _rubric(prompt_index: int, criteria: int) -> str:
    items = [
        {
            "criterion": f"Prompt {prompt_index}: the answer covers required point number {c}.",
            "points": (-3 if c % 5 == 4 else 2 + c % 3),
            "tags": [f"axis:{('accuracy', 'completeness', 'communication')[c % 3]}"],
        }
        for c in range(criteria)
    ]
    return json.dumps(items)


def _bodies(step: int, rollouts: int, group: int, criteria: int) -> list[dict[str, Any]]:
    bodies = []
    for index in range(rollouts):
        prompt_index = index // group
        prompt = CHATML.format(
            question=f"Question {prompt_index}: explain topic {prompt_index} briefly."
        )
        response = f"Step {step}, completion {index}: an answer about topic {prompt_index}, draft {index % group}."
        bodies.append(
            {
                "query": [prompt + response + "<|im_end|>"],
                "prompts": [prompt],
                "labels": [_rubric(prompt_index, criteria)],
            }
        )
    return bodies


def _start(command: list[str], log: Path | None = None, **kwargs: Any) -> subprocess.Popen[bytes]:
    # Logs go to a file: an undrained pipe would block the server once its buffer fills.
    stderr = open(log, "wb") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, **kwargs)


def _counters(text: str) -> dict[str, float]:
    """The reward server's unlabelled counters from its /metrics text."""
    values = {}
    for line in text.splitlines():
        if line.startswith("rubricate_") and "{" not in line:
            name, _, value = line.partition(" ")
            values[name.removeprefix("rubricate_")] = float(value)
    return values


async def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(600):  # bounded: about 60 s
            if process.poll() is not None:
                raise RuntimeError("reward server exited; see its log")
            try:
                if (await client.get(f"{url}/healthz", timeout=1)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("reward server did not become healthy")


async def _step(pool: HttpPool, bodies: list[dict[str, Any]]) -> tuple[float, list[float], int]:
    async def one(body: bytes) -> tuple[float, bool]:
        start = time.perf_counter()
        try:
            reply = await pool.post("/get_reward", body)
            ok = reply.status == 200 and len(json.loads(reply.body)["rewards"]) == 1
        except (OSError, ValueError, KeyError):
            ok = False
        return time.perf_counter() - start, ok

    payloads = [json.dumps(b).encode() for b in bodies]
    start = time.perf_counter()
    results = await asyncio.gather(*(one(p) for p in payloads))
    elapsed = time.perf_counter() - start
    return elapsed, [r[0] for r in results], sum(1 for r in results if not r[1])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def _run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="rubricate-bench-"))
    judge_flags = (
        f"--port 0 --latency {args.latency} --max-concurrent {args.cap} --fault-rate "
        f"{args.fault_rate} --faults {args.faults} --seed 1 --timeout-s {args.judge_timeout + 0.5}"
    )
    judge = _start([sys.executable, "-m", "tests.support.judge_server", *judge_flags.split()])
    judge_url = judge.stdout.readline().decode().strip()  # type: ignore[union-attr]
    judge_stats = judge_url.removesuffix("/v1") + "/stats"
    url = f"http://127.0.0.1:{_free_port()}"
    server_flags = (
        f"--port {url.rsplit(':', 1)[1]} --judge-url {judge_url} --judge-model stub "
        f"--concurrency {args.concurrency or 2 * args.cap} --timeout {args.judge_timeout} "
        f"--max-retries 6 --max-pending {args.rollouts * args.criteria}"
    )
    if args.hedge_after is not None:
        server_flags += f" --hedge-after {args.hedge_after}"
    cache = ["--cache", str(workdir / "cache.sqlite")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUBRICATE_")}
    command = [sys.executable, "-m", "rubricate", "serve", *server_flags.split(), *cache]
    server = _start(command, workdir / "server.log", env=env)
    calls = args.rollouts * args.criteria
    bound = math.ceil(calls / args.cap) * args.latency
    print(
        f"rollouts={args.rollouts} criteria={args.criteria} judgments/step={calls} cap={args.cap} "
        f"latency={args.latency}s fault_rate={args.fault_rate} ({args.faults}) "
        f"judge_timeout={args.judge_timeout}s hedge_after={args.hedge_after} "
        f"ideal bound={bound:.2f}s"
    )
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    print(
        "step  time_s  ratio  ratio_calls  p50_s  p99_s  http_err  crit_err  rss_mib  peak_mib  "
        "judge_requests  server_cpu_s  judge_cpu_s  client_cpu_s"
    )
    ratios, calls_ratios, memory, errors_total = [], [], [], 0
    server_cpu_per_judgment: list[float] = []
    try:
        await _wait_healthy(url, server)
        # The load itself goes through rubricate's lean HTTP pool: httpx would spend more CPU
        # sending 512 requests than the reward server spends answering them.
        pool = HttpPool(url, headers={"content-type": "application/json"})
        async with httpx.AsyncClient(timeout=600) as client:
            for step in range(1, args.steps + 1):
                bodies = _bodies(step, args.rollouts, args.group_size, args.criteria)
                before = (await client.get(judge_stats)).json()["requests"]
                counters = _counters((await client.get(f"{url}/metrics")).text)
                cpu = _cpu_seconds(server.pid), _cpu_seconds(judge.pid)
                client_cpu = time.process_time()
                elapsed, latencies, http_errors = await _step(pool, bodies)
                cpu = _cpu_seconds(server.pid) - cpu[0], _cpu_seconds(judge.pid) - cpu[1]
                client_cpu = time.process_time() - client_cpu
                requests = (await client.get(judge_stats)).json()["requests"] - before
                after = _counters((await client.get(f"{url}/metrics")).text)
                criterion_errors = int(
                    after["criterion_errors_total"] - counters["criterion_errors_total"]
                )
                rss, peak = _memory_mib(server.pid)
                ratios.append(elapsed / bound)
                # The same bound over the calls the judge really served (retries and backups
                # included): what the faults themselves cost the judge, not the client.
                calls_bound = math.ceil(requests / args.cap) * args.latency
                calls_ratios.append(elapsed / calls_bound)
                memory.append(rss)
                server_cpu_per_judgment.append(cpu[0] / calls)
                errors_total += http_errors + criterion_errors
                print(
                    f"{step:>4}  {elapsed:6.2f}  {elapsed / bound:5.3f}  "
                    f"{elapsed / calls_bound:11.3f}  "
                    f"{_percentile(latencies, 0.5):5.2f}  {_percentile(latencies, 0.99):5.2f}  "
                    f"{http_errors:>8}  {criterion_errors:>8}  {rss:7.1f}  {peak:8.1f}  "
                    f"{requests:>14}  {cpu[0]:12.2f}  {cpu[1]:11.2f}  {client_cpu:12.2f}"
                )
        pool.close()
        final = _counters(httpx.get(f"{url}/metrics").text)
        keys = ("judge_calls_total", "judge_failed_calls_total", "criterion_errors_total")
        print("server counters:", ", ".join(f"{k}={final.get(k, 0):.0f}" for k in keys))
        growth = memory[-1] - memory[min(1, len(memory) - 1)]
        print(
            f"summary: ratio median={sorted(ratios)[len(ratios) // 2]:.3f} max={max(ratios):.3f}; "
            f"ratio_calls median={sorted(calls_ratios)[len(calls_ratios) // 2]:.3f}; "
            f"errors (http + criterion) total={errors_total}; rss step2->last {growth:+.1f} MiB; "
            f"server CPU per judgment median="
            f"{1000 * sorted(server_cpu_per_judgment)[len(server_cpu_per_judgment) // 2]:.3f} ms; "
            f"load average {os.getloadavg()[0]:.2f} at end; server log {workdir / 'server.log'}"
        )
    finally:
        for process in (server, judge):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rollouts", type=int, default=512)
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--criteria", type=int, default=12)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.2, help="judge seconds per call")
    parser.add_argument("--cap", type=int, default=64, help="judge calls served at once")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="reward server's judge calls in flight (default 2 x cap)",
    )
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument(
        "--faults",
        default="429,500,timeout,drop,malformed",
        help="fault kinds of the judge server (a timeout fault costs --judge-timeout per hit)",
    )
    parser.add_argument(
        "--judge-timeout", type=float, default=10.0, help="reward server's per-call timeout"
    )
    parser.add_argument(
        "--hedge-after",
        type=float,
        default=None,
        help="reward server's --hedge-after: back up a judge call unanswered this long",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    return asyncio.run(_run(args))


if __name__ == "__main__":
    raise SystemExit(main())
