"""``compare`` over HTTP: a run killed with kill -9 resumes without re-asking a decided order."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from tests.support.judge_server import JudgeServer

N_PAIRS = 40
_SEAT_A = re.compile(r"<(response-A-[0-9a-f]+)>\n(.*?)\n</\1>", re.DOTALL)

# The child compares pairs whose right answer says RIGHT through a real OpenAIJudge.
CHILD = textwrap.dedent(
    """
    import sys
    from rubricate.backends import OpenAIJudge
    from rubricate.pairwise import Pair, compare_pairs
    from rubricate.store import Store
    from rubricate.types import Message

    url, out, cache, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    pairs = [
        Pair(f"p{i}", (Message("user", f"q{i}"),),
             f"RIGHT {i}" if i % 2 else f"wrong {i}", f"wrong {i}" if i % 2 else f"RIGHT {i}",
             label="A>B" if i % 2 else "B>A", source="s")
        for i in range(n)
    ]
    judge = OpenAIJudge(base_url=url, model="stub", connections=2)
    with Store(cache) as store:
        compare_pairs(pairs, judge, out, store=store, concurrency=2)
    """
)


def _oracle(body: dict[str, Any]) -> str:
    first = _SEAT_A.search(body["messages"][1]["content"])
    assert first is not None
    return '{"winner": "A"}' if first.group(2).startswith("RIGHT") else '{"winner": "B"}'


def _run(url: str, out: Path, cache: Path) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-c", CHILD, url, str(out), str(cache), str(N_PAIRS)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_compare_killed_with_sigkill_resumes(tmp_path: Path) -> None:
    out, cache = tmp_path / "run", tmp_path / "cache.sqlite"
    with JudgeServer(respond=_oracle, latency_s=0.03, record=False) as server:
        child = _run(server.url, out, cache)
        deadline = time.monotonic() + 120
        while server.requests < 20 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.01)
        assert child.poll() is None, "the run ended before it could be killed"
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=60) == -9
        time.sleep(0.2)
        before = server.requests
        assert (out / "pairs.jsonl.partial").exists() and not (out / "pairs.jsonl").exists()

        resumed = _run(server.url, out, cache)
        assert resumed.wait(timeout=300) == 0, resumed.stderr.read() if resumed.stderr else ""
        asked_again = server.requests - before

    # Every order is asked once in all (2 per pair), give or take the calls the killed run
    # had on the wire or decided but not yet committed (at most its 2 slots per turn).
    assert before + asked_again <= 2 * N_PAIRS + 4
    assert asked_again < 2 * N_PAIRS
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["n_pairs"] == N_PAIRS and summary["accuracy"] == 1.0
    assert summary["counts"]["cache_hits"] >= 2 * N_PAIRS - asked_again
    lines = (out / "pairs.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["pair_id"] for line in lines] == [f"p{i}" for i in range(N_PAIRS)]
