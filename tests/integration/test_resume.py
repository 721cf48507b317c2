"""A run killed mid-way (kill -9 or Ctrl-C) resumes without re-issuing a completed judgment."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import rubricate
from tests.helpers import SHARED_DATA
from tests.support.judge_server import JudgeServer

ROOT = Path(__file__).resolve().parents[2]

HEALTHBENCH = SHARED_DATA / "healthbench_dev.jsonl"
LIMIT = 15


def command(url: str, out, cache, limit: int = LIMIT, concurrency: int = 4) -> list[str]:
    return [
        sys.executable, "-m", "rubricate", "grade", str(HEALTHBENCH), "--judge-url", url,
        "--judge-model", "stub", "--out", str(out), "--cache", str(cache), "--on-invalid", "skip",
        "--response-source", "ideal", "--limit", str(limit), "--concurrency", str(concurrency),
        "--quiet",
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


def _wait_until_quiet(server: JudgeServer, quiet_s: float = 1.5, limit_s: float = 60) -> None:
    """Until the server has had no request for ``quiet_s`` (Ray workers die with their driver,
    but not in the same instant)."""
    deadline = time.monotonic() + limit_s
    seen, since = server.requests, time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        if server.requests != seen:
            seen, since = server.requests, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
    raise AssertionError("the judge server never went quiet after the kill")


def _journal_attempts(cache) -> list[int]:
    with sqlite3.connect(cache) as db:
        return [row[0] for row in db.execute("SELECT attempts FROM runs")]


def test_killed_ray_run_resumes_like_a_local_run(tmp_path) -> None:
    pytest.importorskip("ray.data")
    out, cache = tmp_path / "ray", tmp_path / "cache.sqlite"
    # Ray's workers import rubricate from the driver's path: make it this checkout's, absolute.
    source = str(Path(rubricate.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([source, str(ROOT)])}
    with JudgeServer(latency_s=0.05, record=False) as server:
        cmd = [*command(server.url, out, cache, limit=30, concurrency=2), "--ray", "local"]
        child = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
        )
        deadline = time.monotonic() + 240
        while server.requests < 80 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.01)
        assert child.poll() is None, "the run ended before it could be killed: " + str(
            child.stderr.read() if child.stderr else ""
        )
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=60) == -9
        _wait_until_quiet(server)
        requests_before = server.requests
        completed = stored_judgments(cache)
        assert not (out / "results.jsonl").exists() and (out / "results.jsonl.partial").exists()

        resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
        assert resumed.returncode == 0, resumed.stderr
        resumed_requests = server.requests - requests_before

        fresh_out, fresh_cache = tmp_path / "local", tmp_path / "fresh.sqlite"
        before_fresh = server.requests
        run_to_end(command(server.url, fresh_out, fresh_cache, limit=30, concurrency=2))
        total = server.requests - before_fresh

    # Killed mid-way: some judgments were stored, some were not.
    assert 0 < completed < total
    # Exactly the judgments that had not completed were asked again, and the resumed Ray run
    # wrote what one uninterrupted local run writes.
    assert resumed_requests == total - completed
    assert (out / "results.jsonl").read_bytes() == (fresh_out / "results.jsonl").read_bytes()
    # The driver journalled the run, and the second command was its second attempt.
    assert _journal_attempts(cache) == [2]
