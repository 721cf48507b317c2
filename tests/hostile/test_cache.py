"""A corrupted, unusable or emptied cache: a clear error naming the file and the way out, and
a silently rebuilt cache reported."""

from __future__ import annotations

import ctypes
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rubricate.cli import app
from rubricate.errors import ConfigError
from rubricate.store import Store
from rubricate.types import Verdict
from tests.support.judge_server import JudgeServer

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]

WAY_OUT = ("--cache", "--no-cache", "delete the file")


def filled_cache(path: Path) -> Path:
    with Store(path) as store:
        rows = [(f"k{i}", Verdict("", "met", explanation="x" * 200)) for i in range(2000)]
        store.put_judgments(rows)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def corrupt_pages(path: Path) -> None:
    with open(path, "r+b") as handle:
        handle.seek(4096 * 3)
        handle.write(b"\xde\xad" * 10_240)


def test_corrupted_pages_name_the_file_and_the_way_out(tmp_path: Path) -> None:
    path = filled_cache(tmp_path / "c.sqlite")
    corrupt_pages(path)
    with pytest.raises(ConfigError) as caught, Store(path) as store:
        store.get_judgments([f"k{i}" for i in range(2000)])
    message = str(caught.value)
    assert str(path) in message and "malformed" in message
    assert all(hint in message for hint in WAY_OUT)


def test_grade_with_a_corrupted_cache_exits_2_without_a_traceback(tmp_path: Path) -> None:
    path = filled_cache(tmp_path / "c.sqlite")
    corrupt_pages(path)
    data = tmp_path / "data.jsonl"
    record = {"id": "s1", "prompt": "Dose?", "response": "5 mg", "rubric": [{"criterion": "Dose"}]}
    data.write_text(json.dumps(record) + "\n")
    with JudgeServer() as judge:
        args = ["grade", str(data), "--judge-url", judge.url, "--judge-model", "stub"]
        result = runner.invoke(app, [*args, "--out", str(tmp_path / "run"), "--cache", str(path)])
        assert judge.requests == 0
    output = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "Traceback" not in output and "cannot open the store" in output
    assert all(hint in output for hint in WAY_OUT)
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_zero_byte_cache_is_rebuilt_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="rubricate.store"), Store(path) as store:
        assert store.rebuilt is not None and "0 bytes" in store.rebuilt
        assert store.count_judgments() == 0
    assert any("0 bytes" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records)
    with Store(path) as again:  # a real cache now: nothing to report
        assert again.rebuilt is None


def test_a_fresh_cache_is_not_reported_as_rebuilt(tmp_path: Path) -> None:
    with Store(tmp_path / "new.sqlite") as store:
        assert store.rebuilt is None


_PR_CAPBSET_DROP = 24
# CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER: what lets root ignore file modes.
_FILE_MODE_CAPABILITIES = (1, 2, 3)


def _obey_file_modes() -> None:
    """In the child, before exec: root gives up the capabilities that let it write read-only
    files (it keeps uid 0, so it can still run this interpreter); a no-op for other users."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in _FILE_MODE_CAPABILITIES:
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_a_read_only_cache_names_the_file_and_the_way_out(tmp_path: Path) -> None:
    base = tmp_path
    source = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    try:
        (base / "cache").mkdir()
        path = filled_cache(base / "cache" / "c.sqlite")
        path.chmod(0o444)
        (base / "cache").chmod(0o555)  # nor can SQLite create its -wal file beside it
        data = base / "data.jsonl"
        record = {
            "id": "s1",
            "prompt": "Dose?",
            "response": "5 mg",
            "rubric": [{"criterion": "Dose"}],
        }
        data.write_text(json.dumps(record) + "\n")
        with JudgeServer() as judge:
            command = [
                sys.executable, "-m", "rubricate", "grade", str(data), "--judge-url", judge.url,
                "--judge-model", "stub", "--out", str(base / "run"), "--cache", str(path), "--quiet",
            ]  # fmt: skip
            child = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=120,
                env={**os.environ, "PYTHONPATH": source},
                preexec_fn=_obey_file_modes,
            )
            assert judge.requests == 0
    finally:
        (base / "cache").chmod(0o755)
    output = " ".join(child.stderr.split())
    assert child.returncode == 2, child.stderr
    assert "Traceback" not in output and "cannot open the store" in output
    assert str(path) in output.replace(" ", "")
    assert all(hint in output for hint in WAY_OUT)


def test_a_cache_path_that_is_a_directory_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(ConfigError) as caught:
        Store(tmp_path / "dir.sqlite")
    assert "dir.sqlite" in str(caught.value) and "--no-cache" in str(caught.value)


def test_sqlite_refusing_writes_is_a_clear_error(tmp_path: Path) -> None:
    """What a read-only file gives, reproduced for root too: SQLite's own read-only refusal."""
    path = filled_cache(tmp_path / "c.sqlite")
    with Store(path) as store:
        store._db.execute("PRAGMA query_only=ON")
        with pytest.raises(ConfigError) as caught:
            store.put_judgments([("new", Verdict("", "met"))])
        assert store.get_judgments(["k1"])["k1"].label == "met"  # still usable for reading
    message = str(caught.value)
    assert "cannot write the store" in message and "readonly" in message
    assert all(hint in message for hint in WAY_OUT)
