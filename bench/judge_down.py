"""How long `rubricate grade` takes to give up when its only judge is down.

Three judges that never answer usefully: a closed port (connection refused), a server that
answers 500 to every call, and one that accepts every call and never answers (``hang``, run
with a short ``--timeout``). Each case runs the same `rubricate grade` command as a subprocess
and prints its wall time, exit code and last line of output.

    PYTHONPATH=src python bench/judge_down.py [--src DIR] [--limit 5] [--timeout 2]

``--src`` points at another checkout's ``src`` (e.g. the base commit's, for a before figure).
The ``serve-*`` cases put the reward server (in this process: ``PYTHONPATH`` picks the sources)
in front of the same three judges and time two OpenRLHF requests of 6 responses x 4 criteria.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.judge_server import JudgeServer  # noqa: E402


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(src: str, url: str, limit: int, extra: list[str]) -> tuple[float, int, str]:
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable,
            "-m",
            "rubricate",
            "grade",
            str(ROOT / "examples" / "healthbench_demo.jsonl"),
            "--judge-url",
            url,
            "--judge-model",
            "stub",
            "--limit",
            str(limit),
            "--no-cache",
            "-q",
            "--out",
            str(Path(tmp) / "run"),
            *extra,
        ]
        env = {**os.environ, "PYTHONPATH": src, "COLUMNS": "200"}
        start = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return elapsed, done.returncode, lines[-1][:160] if lines else ""


def _serve(url: str, **judge: float) -> list[dict[str, object]]:
    import httpx
    from tests.rewards.rows import RESPONSES, RUBRIC
    from tests.server.live import LiveServer

    from rubricate.server import ServerSettings, create_app
    from rubricate.settings import JudgeSettings

    prompt = "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n"
    body = {
        "query": [prompt + r + "<|im_end|>" for r in RESPONSES],
        "prompts": [prompt] * len(RESPONSES),
        "labels": [json.dumps(RUBRIC)] * len(RESPONSES),
    }
    settings = JudgeSettings(judge_urls=[url], judge_model="stub", no_cache=True, **judge)
    rows: list[dict[str, object]] = []
    with LiveServer(create_app(ServerSettings(judge=settings))) as server:
        for _ in range(2):
            start = time.perf_counter()
            reply = httpx.post(f"{server.url}/get_reward", json=body, timeout=900)
            rows.append(
                {
                    "seconds": round(time.perf_counter() - start, 2),
                    "status": reply.status_code,
                    "body": reply.text[:80],
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--src", default=str(ROOT / "src"))
    parser.add_argument("--limit", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--cases", default="closed,500,hang")
    args = parser.parse_args()
    results = {}
    for case in args.cases.split(","):
        if case.startswith("serve-"):
            kind = case.removeprefix("serve-")
            if kind == "closed":
                rows = _serve(f"http://127.0.0.1:{_closed_port()}/v1")
            else:
                faults = ("500",) if kind == "500" else ("timeout",)
                timing = {"timeout": args.timeout} if kind == "hang" else {}
                with JudgeServer(fault_rate=1.0, faults=faults, timeout_s=3600, record=False) as j:
                    rows = _serve(j.url, **timing)
            print(json.dumps({case: rows}), flush=True)
            continue
        extra: list[str] = []
        if case == "closed":
            elapsed, code, last = _run(
                args.src, f"http://127.0.0.1:{_closed_port()}/v1", args.limit, extra
            )
            calls = None
        else:
            faults = ("500",) if case == "500" else ("timeout",)
            if case == "hang":
                extra = ["--timeout", str(args.timeout)]
            with JudgeServer(fault_rate=1.0, faults=faults, timeout_s=3600, record=False) as judge:
                elapsed, code, last = _run(args.src, judge.url, args.limit, extra)
                calls = judge.requests
        results[case] = {"seconds": round(elapsed, 1), "exit": code, "calls": calls, "last": last}
        print(json.dumps({case: results[case]}), flush=True)


if __name__ == "__main__":
    main()
