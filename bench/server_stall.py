"""Does a hostile request stall the reward server? ``/healthz`` latency while it is processed.

Starts the fake judge (``tests.support.judge_server``) in this process and the reward server
(``python -m rubricate serve``) as a child process on loopback, then for each hostile request
sends it from a thread while polling ``/healthz`` every 20 ms. Reports, per request: its own
status and time, the number of ``/healthz`` polls, and their median and worst latency. The
baseline is ``/healthz`` with nothing else going on, measured in the same command.

    python bench/server_stall.py [--scale 1.0]

``--scale`` multiplies the hostile sizes (1.0 = the sizes in issue 9: 563 KiB of
``<|im_start|>`` in a prompt, 1.5 MiB of ``</s>`` after a response). Run from the repository
root; the child server imports ``rubricate`` from ``PYTHONPATH`` like this script does.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.judge_server import JudgeServer  # noqa: E402

RUBRIC = [{"criterion": "Says four", "points": 5}]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _hostile_bodies(scale: float) -> dict[str, dict[str, Any]]:
    turn = "<|im_start|>user\n"  # a turn that never ends: each start scans to the end
    starts = turn * int(563 * 1024 * scale / len(turn))
    ends = "</s>" * int(1.5 * 1024 * 1024 * scale / len("</s>"))
    label = json.dumps(RUBRIC)
    return {
        "im_start x 563 KiB": {"query": [starts + "four"], "prompts": [starts], "labels": [label]},
        "</s> x 1.5 MiB": {"query": ["four" + ends], "labels": [label]},
    }


def _poll(url: str, stop: threading.Event, latencies: list[float]) -> None:
    with httpx.Client(timeout=60) as client:
        while not stop.is_set():
            start = time.perf_counter()
            # A timeout counts with its full wait: the server did not answer within 60 s.
            with contextlib.suppress(httpx.TimeoutException):
                client.get(f"{url}/healthz")
            latencies.append(time.perf_counter() - start)
            time.sleep(0.02)


def _measure(url: str, body: dict[str, Any] | None) -> tuple[str, float, list[float]]:
    latencies: list[float] = []
    stop = threading.Event()
    poller = threading.Thread(target=_poll, args=(url, stop, latencies))
    poller.start()
    start = time.perf_counter()
    status = "-"
    if body is None:
        time.sleep(1.0)
    else:
        reply = httpx.post(f"{url}/get_reward", json=body, timeout=300)
        status = str(reply.status_code)
    elapsed = time.perf_counter() - start
    stop.set()
    poller.join()
    return status, elapsed, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    port = _free_port()
    with JudgeServer() as judge:
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "rubricate", "serve", "--judge-url", judge.url),
                *("--judge-model", "stub", "--no-cache", "--port", str(port)),
            ],
            env={**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "src")},
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):  # bounded: about 30 s
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            rows = [("baseline (idle)", None)]
            rows += list(_hostile_bodies(args.scale).items())
            print(
                f"{'request':<22} {'status':>6} {'took s':>8} {'polls':>6} {'p50 ms':>8} {'max ms':>9}"
            )
            for name, body in rows:
                status, took, lat = _measure(url, body)
                p50 = statistics.median(lat) * 1000 if lat else float("nan")
                worst = max(lat) * 1000 if lat else float("nan")
                print(
                    f"{name:<22} {status:>6} {took:>8.2f} {len(lat):>6} {p50:>8.1f} {worst:>9.1f}"
                )
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
