"""A run directory under crashes and contention: results and summary published as a pair (a kill
-9 between the renames never leaves a summary of other results), one run at a time per
directory (a second exits 2 at once; the lock goes with the run, also on Ctrl-C and kill -9),
and `--out` naming a file refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rubricate.cli import app
from rubricate.errors import ConfigError
from rubricate.runs import RunLock, results_digest, stale_summary
from tests.helpers import healthbench_line, write_jsonl
from tests.support.judge_server import JudgeServer

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

# Runs the CLI with os.replace wrapped so that the process kills itself (SIGKILL, nothing
# runs after it) right after results.jsonl is renamed into place: between the two renames.
KILL_AFTER_RESULTS_RENAME = """
import os, signal, sys
real = os.replace
def replace(src, dst, *args, **kwargs):
    real(src, dst, *args, **kwargs)
    if str(dst).endswith("results.jsonl"):
        os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
from rubricate.cli import app
app(sys.argv[1:], prog_name="rubricate")
"""


def dataset(path: Path, n: int, tag: str = "") -> Path:
    lines = [
        healthbench_line(
            f"p{i}", [(f"Criterion {tag}{i}.{j}", j + 1, []) for j in range(3)], f"a{i}"
        )
        for i in range(n)
    ]
    return write_jsonl(path, lines)


def args(url: str, data: Path, out: Path, cache: Path) -> list[str]:
    return [
        "grade", str(data), "--judge-url", url, "--judge-model", "stub", "--out", str(out),
        "--cache", str(cache), "--quiet", "--concurrency", "2",
    ]  # fmt: skip


def cli(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "rubricate", *arguments]


def env() -> dict[str, str]:
    source = str(ROOT / "src")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([source, str(ROOT)])}


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for_requests(server: JudgeServer, child: subprocess.Popen, n: int) -> None:
    deadline = time.monotonic() + 120
    while server.requests < n and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.01)
    assert child.poll() is None, "the run ended before the test could act on it"


def test_kill_9_between_the_renames_leaves_no_summary_of_other_results(tmp_path: Path) -> None:
    out, cache = tmp_path / "run", tmp_path / "cache.sqlite"
    first, second = dataset(tmp_path / "a.jsonl", 3, "a"), dataset(tmp_path / "b.jsonl", 5, "b")
    with JudgeServer(record=False) as server:
        done = subprocess.run(
            cli(*args(server.url, first, out, cache)), capture_output=True, text=True, env=env()
        )
        assert done.returncode == 0, done.stderr
        old_summary = json.loads((out / "summary.json").read_text())
        assert old_summary["results"] == results_digest(out / "results.jsonl")

        killed = subprocess.run(
            [
                sys.executable,
                "-c",
                KILL_AFTER_RESULTS_RENAME,
                *args(server.url, second, out, cache),
            ],
            capture_output=True,
            text=True,
            env=env(),
        )
        assert killed.returncode == -9, killed.stderr
        results = out / "results.jsonl"
        assert len(results.read_text().splitlines()) == 5  # the second run's results are in place
        summary = out / "summary.json"
        if summary.exists():  # a summary left behind must describe these results
            assert json.loads(summary.read_text()).get("results") == results_digest(results)

        # Re-running the command publishes the pair, from the cache alone.
        calls = server.requests
        again = subprocess.run(
            cli(*args(server.url, second, out, cache)), capture_output=True, text=True, env=env()
        )
        assert again.returncode == 0, again.stderr
        assert server.requests == calls
    assert json.loads(summary.read_text())["results"] == results_digest(results)


def test_score_warns_about_a_summary_of_other_results(tmp_path: Path) -> None:
    """What a kill between the renames left before: the old summary beside new results."""
    cache = tmp_path / "cache.sqlite"
    with JudgeServer(record=False) as server:
        for name, n in (("a", 3), ("b", 4)):
            data = dataset(tmp_path / f"{name}.jsonl", n, name)
            result = runner.invoke(app, args(server.url, data, tmp_path / name, cache))
            assert result.exit_code == 0, result.output
    (tmp_path / "b" / "results.jsonl").replace(tmp_path / "a" / "results.jsonl")
    stale = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert stale_summary(stale, tmp_path / "a" / "results.jsonl") is not None

    result = runner.invoke(app, ["score", str(tmp_path / "a" / "results.jsonl"), "-q"])
    output = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert "is stale" in output and "3 lines" in output and "(4 lines" in output
    rescored = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert rescored["n_samples"] == 4 and rescored["counts"]["judge_calls"] == 0  # not carried
    assert rescored["results"] == results_digest(tmp_path / "a" / "results.jsonl")


def test_a_second_run_on_the_same_out_exits_2_at_once(tmp_path: Path) -> None:
    out = tmp_path / "run"
    data = dataset(tmp_path / "data.jsonl", 30)
    with JudgeServer(latency_s=0.05, record=False) as server, JudgeServer() as other:
        first = subprocess.Popen(
            cli(*args(server.url, data, out, tmp_path / "c1.sqlite")),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env(),
        )
        wait_for_requests(server, first, 10)
        second = runner.invoke(app, args(other.url, data, out, tmp_path / "c2.sqlite"))
        assert other.requests == 0
        output = " ".join(second.output.split())
        assert second.exit_code == 2, second.output
        assert "is being written by another run" in output and f"pid {first.pid}" in output
        assert first.poll() is None  # the first run goes on untouched
        assert first.wait(timeout=300) == 0, first.stderr.read() if first.stderr else ""
    assert len((out / "results.jsonl").read_text().splitlines()) == 30
    assert not (out / "results.jsonl.lock").exists()
    # Once the first run has ended the directory is free again.
    with JudgeServer(record=False) as server:
        again = runner.invoke(app, args(server.url, data, out, tmp_path / "c1.sqlite"))
        assert again.exit_code == 0, again.output


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL])
def test_the_lock_goes_with_the_run(tmp_path: Path, how: signal.Signals) -> None:
    out, cache = tmp_path / "run", tmp_path / "cache.sqlite"
    data = dataset(tmp_path / "data.jsonl", 30)
    lock = out / "results.jsonl.lock"
    with JudgeServer(latency_s=0.05, record=False) as server:
        child = subprocess.Popen(
            cli(*args(server.url, data, out, cache)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env(),
            preexec_fn=_default_sigint,
        )
        wait_for_requests(server, child, 10)
        assert f"pid {child.pid} " in lock.read_text()
        child.send_signal(how)
        assert child.wait(timeout=60) == (130 if how == signal.SIGINT else -9)
        if how == signal.SIGINT:
            assert not lock.exists()
        else:  # the file stays with the dead run's pid, but nobody holds its lock
            assert f"pid {child.pid} " in lock.read_text()
        resumed = subprocess.run(
            cli(*args(server.url, data, out, cache)), capture_output=True, text=True, env=env()
        )
    assert resumed.returncode == 0, resumed.stderr
    taken_over = "taking over the lock of a run that ended without releasing it"
    assert (taken_over in resumed.stderr) == (how == signal.SIGKILL), resumed.stderr
    assert not lock.exists()
    assert len((out / "results.jsonl").read_text().splitlines()) == 30


def test_one_lock_holder_per_results_file(tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    with RunLock(results), pytest.raises(ConfigError, match=f"pid {os.getpid()} "):
        RunLock(results).acquire()
    with RunLock(results) as lock:  # released: free again
        assert lock.taken_over is None


@pytest.mark.parametrize("where", ["file", "below-a-file"])
def test_out_naming_a_file_exits_2_with_a_clear_message(tmp_path: Path, where: str) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("mine\n")
    out = target if where == "file" else target / "run"
    data = dataset(tmp_path / "data.jsonl", 2)
    with JudgeServer() as server:
        result = runner.invoke(app, args(server.url, data, out, tmp_path / "c.sqlite"))
        assert server.requests == 0
    output = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "is a file" in output and str(target) in output.replace(" ", "")
    assert target.read_text() == "mine\n"
