"""Grading against a real OpenAI-compatible HTTP server on loopback, with injected faults."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys

import pytest

import rubricate
from rubricate.backends import Judge, create_openai_judge
from rubricate.formats import read_samples
from rubricate.types import Sample
from tests.helpers import SHARED_DATA
from tests.support.judge_server import JudgeServer

HEALTHBENCH = SHARED_DATA / "healthbench_dev.jsonl"


def ideal_samples(limit: int | None = None) -> list[Sample]:
    items = (s for s in read_samples(HEALTHBENCH, response_source="ideal") if isinstance(s, Sample))
    return list(itertools.islice(items, limit))


def verdict_table(result: rubricate.GradeResult) -> dict[tuple[str, str], str]:
    return {(r.sample_id, v.criterion_id): v.verdict for r in result.results for v in r.verdicts}


def judge_for(server: JudgeServer, **kwargs) -> Judge:
    return create_openai_judge(
        server.url,
        "stub",
        timeout=2.0,
        max_retries=8,
        backoff_base=0.01,
        backoff_max=0.05,
        **kwargs,
    )


@pytest.mark.parametrize("mode", ["per-criterion", "grouped"])
def test_faults_do_not_change_verdicts(mode: str) -> None:
    samples = ideal_samples(25)
    with JudgeServer(record=False) as clean:
        expected = rubricate.grade(samples, judge_for(clean), mode=mode, concurrency=8)
    with JudgeServer(
        fault_rate=0.3, seed=7, timeout_s=5.0, retry_after="0.01", record=False
    ) as faulty:
        observed = rubricate.grade(samples, judge_for(faulty), mode=mode, concurrency=8)
        injected = dict(faulty.injected)
    assert set(injected) >= {"429", "500", "timeout", "drop", "malformed"}
    assert verdict_table(observed) == verdict_table(expected)
    assert [r.score for r in observed.results] == [r.score for r in expected.results]
    counts = observed.summary.counts
    assert counts.errors == 0 and counts.failed_calls == 0
    assert counts.criteria == sum(len(s.rubric.criteria) for s in samples)


def test_unparseable_judge_replies_are_counted_errors_not_zeros() -> None:
    samples = ideal_samples(3)
    with JudgeServer(fault_rate=1.0, faults=["garbage"], record=False) as server:
        result = rubricate.grade(samples, judge_for(server), reasks=1)
        requests = server.requests
    counts = result.summary.counts
    n = sum(len(s.rubric.criteria) for s in samples)
    assert counts.errors == n and requests == 2 * n and counts.unparseable_replies == 2 * n
    assert all(r.score is None for r in result.results) and result.summary.score is None


def test_a_dead_endpoint_in_a_pool_is_routed_around() -> None:
    samples = ideal_samples(5)
    with (
        JudgeServer(record=False) as good,
        JudgeServer(fault_rate=1.0, faults=["500"], record=False) as bad,
    ):
        judge = create_openai_judge(
            [bad.url, good.url], "stub", timeout=2.0, backoff_base=0.01, backoff_max=0.02
        )
        result = rubricate.grade(samples, judge, concurrency=4)
    assert result.summary.counts.errors == 0
    assert good.requests >= result.summary.counts.judge_calls


def _cli_grade(server: JudgeServer, data, out, cache) -> tuple[int, int]:
    """Run ``rubricate grade`` in a child process; (exit code, its peak RSS in KiB)."""
    command = [
        sys.executable, "-m", "rubricate", "grade", str(data), "--judge-url", server.url,
        "--judge-model", "stub", "--out", str(out), "--cache", str(cache), "--on-invalid", "skip",
        "--response-source", "ideal", "--concurrency", "16", "--quiet",
    ]  # fmt: skip
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise AssertionError(child.stderr.read().decode())
    return child.returncode, usage.ru_maxrss


def _repeated_file(path, times: int):
    """The HealthBench file ``times`` over, with distinct prompt ids and responses."""
    with open(path, "w", encoding="utf-8") as out:
        for round_ in range(times):
            for line in HEALTHBENCH.read_text(encoding="utf-8").split("\n"):
                if not line.strip():
                    continue
                record = json.loads(line)
                record["prompt_id"] = f"{record['prompt_id']}#{round_}"
                ideal = record.get("ideal_completions_data") or {}
                if ideal.get("ideal_completion"):  # a new response each round: no cache hits
                    ideal["ideal_completion"] += f"\n(round {round_})"
                out.write(json.dumps(record) + "\n")
    return path


def test_full_healthbench_end_to_end_with_flat_memory(tmp_path) -> None:
    with JudgeServer(record=False) as server:
        _, _ = _cli_grade(server, HEALTHBENCH, tmp_path / "x1", tmp_path / "c1.sqlite")
        data_2 = _repeated_file(tmp_path / "x2.jsonl", 2)
        _, rss_2 = _cli_grade(server, data_2, tmp_path / "x2", tmp_path / "c2.sqlite")
        data_6 = _repeated_file(tmp_path / "x6.jsonl", 6)
        _, rss_6 = _cli_grade(server, data_6, tmp_path / "x6", tmp_path / "c6.sqlite")
    summary_1 = json.loads((tmp_path / "x1" / "summary.json").read_text())
    summary_6 = json.loads((tmp_path / "x6" / "summary.json").read_text())
    assert summary_1["n_samples"] == 258 and summary_1["counts"]["skipped_lines"] == 40
    assert summary_1["counts"]["errors"] == 0 and 0.0 <= summary_1["score"] <= 1.0
    assert summary_6["n_samples"] == 6 * 258 and summary_6["counts"]["errors"] == 0
    assert summary_6["counts"]["judge_calls"] == 6 * summary_1["counts"]["judge_calls"]
    lines = (tmp_path / "x6" / "results.jsonl").read_text().split("\n")[:-1]
    assert len(lines) == 6 * 258 and json.loads(lines[0])["sample_id"].endswith("#0")
    # Past the warm-up, three times the samples must not need more memory to speak of
    # (the first run's peak is lower only because its window never fills as often).
    assert rss_6 < 1.15 * rss_2, (rss_2, rss_6)
