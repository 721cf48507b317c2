"""A run killed mid-way (kill -9 or Ctrl-C) resumes without re-issuing a completed judgment."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.helpers import SHARED_DATA
from tests.support.judge_server import JudgeServer

HEALTHBENCH = SHARED_DATA / "healthbench_dev.jsonl"
LIMIT = 15


def command(url: str, out, cache) -> list[str]:
    return [
        sys.executable, "-m", "rubricate", "grade", str(HEALTHBENCH), "--judge-url", url,
        "--judge-model", "stub", "--out", str(out), "--cache", str(cache), "--on-invalid", "skip",
        "--response-source", "ideal", "--limit", str(LIMIT), "--concurrency", "4", "--quiet",
    ]  # fmt: skip


def stored_judgments(cache) -> int:
    with sqlite3.connect(cache) as db:
        return db.execute("SELECT COUNT(*) FROM judgments").fetchone()[0]


def run_to_end(cmd: list[str]) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT])
def test_killed_run_resumes_without_repeating_judgments(tmp_path, how) -> None:
    out, cache = tmp_path / "run", tmp_path / "cache.sqlite"
    with JudgeServer(latency_s=0.04, record=False) as server:
        cmd = command(server.url, out, cache)
        child = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            # A shell starts background jobs with SIGINT ignored, and the child would inherit
            # that; the test is about a user's Ctrl-C, so give it the terminal's default.
            preexec_fn=_default_sigint,
        )
        deadline = time.monotonic() + 120
        while server.requests < 60 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.01)
        assert child.poll() is None, "the run ended before it could be interrupted"
        child.send_signal(how)
        code = child.wait(timeout=60)
        assert code == (-9 if how == signal.SIGKILL else 130), child.stderr.read()
        time.sleep(0.2)  # let the server finish answering calls the dead client had in flight
        requests_before = server.requests
        completed = stored_judgments(cache)
        assert 0 < completed <= requests_before
        assert not (out / "results.jsonl").exists() and (out / "results.jsonl.partial").exists()

        run_to_end(cmd)
        resumed_requests = server.requests - requests_before

        fresh_out, fresh_cache = tmp_path / "fresh", tmp_path / "fresh.sqlite"
        before_fresh = server.requests
        run_to_end(command(server.url, fresh_out, fresh_cache))
        total = server.requests - before_fresh

    # Exactly the judgments that had not completed were asked again.
    assert resumed_requests == total - completed
    assert (out / "results.jsonl").read_bytes() == (fresh_out / "results.jsonl").read_bytes()
    # Running the same command once more costs nothing.
    with JudgeServer(record=False) as idle:
        again = run_to_end(command(idle.url, out, cache))
        assert idle.requests == 0, again.stderr
