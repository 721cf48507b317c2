"""Commands bound to the settings tree: --config, environment, flags, `rubricate config show`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import tomllib
from typer.testing import CliRunner

from rubricate.cli import app
from rubricate.settings import Settings
from tests.helpers import healthbench_line, write_jsonl
from tests.support.judge_server import JudgeServer

runner = CliRunner()
UNREACHABLE = "http://127.0.0.1:9/v1"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("RUBRICATE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def show(*args: str) -> str:
    result = runner.invoke(app, ["config", "show", *args])
    assert result.exit_code == 0, result.output
    return result.output


def line_of(output: str, key: str) -> str:
    return next(line for line in output.splitlines() if line.lstrip("# ").startswith(f"{key} ="))


def test_show_reports_each_value_and_its_source(monkeypatch: pytest.MonkeyPatch) -> None:
    Path("rubricate.toml").write_text('[judge]\nmode = "grouped"\ngroup_size = 8\n')
    monkeypatch.setenv("RUBRICATE_CONCURRENCY", "3")
    monkeypatch.setenv("RUBRICATE_SERVER_API_KEY", "hunter2")
    output = show("--group-size", "6", "--judge-url", "http://a/v1", "--judge-url", "http://b/v1")
    assert "hunter2" not in output
    assert line_of(output, "api_key").split("#")[1].strip() == "api_key = (set, hidden)"
    assert line_of(output, "mode").endswith("# file rubricate.toml:2")
    assert line_of(output, "group_size").startswith("group_size = 6")
    assert line_of(output, "group_size").endswith("# flag --group-size")
    assert line_of(output, "concurrency").endswith("# env RUBRICATE_CONCURRENCY")
    assert line_of(output, "judge_urls").startswith('judge_urls = ["http://a/v1", "http://b/v1"]')
    assert line_of(output, "timeout").endswith("# default")
    assert "# config file: rubricate.toml" in output


def test_show_reports_the_trainer_and_server_options(monkeypatch: pytest.MonkeyPatch) -> None:
    Path("rubricate.toml").write_text("[reward]\nnum_workers = 4\n")
    monkeypatch.setenv("RUBRICATE_TOTAL_CONCURRENCY", "32")
    output = show("--axis-fill", "0.5", "--max-queued", "7", "--docs")
    assert line_of(output, "axis_fill") == "axis_fill = 0.5".ljust(44) + "  # flag --axis-fill"
    assert line_of(output, "num_workers").endswith("# file rubricate.toml:2")
    assert line_of(output, "total_concurrency").startswith("total_concurrency = 32")
    assert line_of(output, "total_concurrency").endswith("# env RUBRICATE_TOTAL_CONCURRENCY")
    assert line_of(output, "max_queued").endswith("# flag --max-queued")
    assert line_of(output, "docs").startswith("docs = true")
    assert line_of(show(), "max_queued").startswith("# max_queued = (not set)")


def test_show_prints_a_config_file_that_loads_back_to_the_same_settings(tmp_path: Path) -> None:
    output = show(
        "--no-gates", "--axes", "accuracy,safety", "--cache", "x.sqlite", "--soft",
        "--axis-fill", "0.5", "--total-concurrency", "16", "--max-queued", "0", "--docs",
    )  # fmt: skip
    written = tmp_path / "shown.toml"
    written.write_text(output)
    tomllib.loads(output)  # valid TOML: unset values and secrets are comments
    flags = {
        "reward": {
            "gates": False,
            "axes": "accuracy,safety",
            "axis_fill": 0.5,
            "total_concurrency": 16,
        },
        "judge": {"cache": "x.sqlite", "soft": True},
        "serve": {"max_queued": 0, "docs": True},
    }
    assert Settings.load(config_file=written).model_dump() == Settings.load(flags).model_dump()


def test_bad_settings_exit_2_naming_their_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUBRICATE_TIMEOUT", "soon")
    from_env = runner.invoke(app, ["config", "show"])
    assert from_env.exit_code == 2 and "RUBRICATE_TIMEOUT" in from_env.output
    monkeypatch.delenv("RUBRICATE_TIMEOUT")
    Path("bad.toml").write_text("[judge]\nconcurrency = -1\n")
    from_file = runner.invoke(app, ["config", "show", "--config", "bad.toml"])
    assert from_file.exit_code == 2 and "bad.toml:2" in from_file.output.replace("\n", "")
    from_flag = runner.invoke(app, ["config", "show", "--max-pending", "0"])
    assert from_flag.exit_code == 2 and "--max-pending" in from_flag.output


def test_grade_reads_its_judge_from_the_config_file_and_flags_win(tmp_path: Path) -> None:
    data = write_jsonl(
        tmp_path / "d.jsonl", [healthbench_line("p1", [("Says hi", 1, [])], response="hi")]
    )
    Path("judge.toml").write_text(
        f'[judge]\njudge_urls = ["{UNREACHABLE}"]\njudge_model = "stub"\nmax_retries = 0\n'
        f'cache = "{tmp_path / "c.sqlite"}"\n'
    )
    base = ["grade", str(data), "--config", "judge.toml", "--out", str(tmp_path / "run"), "-q"]
    with JudgeServer() as server:
        unreachable = runner.invoke(app, [*base, "--timeout", "2"])
        assert unreachable.exit_code == 3 and server.requests == 0  # the file's URL was used
        reached = runner.invoke(app, [*base, "--judge-url", server.url])
        assert reached.exit_code == 0, reached.output
        assert server.requests == 1
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["n_scored"] == 1


def test_generate_takes_judge_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = write_jsonl(tmp_path / "p.jsonl", [{"prompt_id": "p0", "prompt": "Largest planet?"}])
    monkeypatch.setenv("RUBRICATE_JUDGE_URL", UNREACHABLE)
    monkeypatch.setenv("RUBRICATE_JUDGE_MODEL", "stub")
    monkeypatch.setenv("RUBRICATE_MAX_RETRIES", "0")
    result = runner.invoke(
        app, ["generate", "from-prompt", str(data), "--no-cache", "-o", str(tmp_path / "r.jsonl")]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "r.summary.json").read_text())
    assert summary["failed"] == 1 and summary["failed_calls"] >= 1  # it called the env's URL


@pytest.mark.parametrize(
    "args",
    [
        ["grade", "d.jsonl", "--format", "xml"],
        ["grade", "d.jsonl", "--on-invalid", "ignore"],
        ["grade", "d.jsonl", "--mode", "batched"],
        ["serve", "--normalize", "minmax"],
        ["score", "r.jsonl", "--method", "median"],
    ],
)
def test_choices_are_refused_before_anything_runs(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and args[-2] in result.output
