"""verl's default of 8 reward-worker processes, all writing one SQLite cache at once."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest

from tests.rewards.rows import RESPONSES, own_scores, ruscarl_row
from tests.support.judge_server import JudgeServer

WORKERS = 8


def _worker(args: tuple[str, str, int, Any]) -> list[float]:
    url, cache, index, start = args
    os.environ.pop("RUBRICATE_CACHE", None)
    import rubricate.rewards.verl as rv

    start.wait()  # every process opens the cache and writes at the same moment
    row = ruscarl_row()
    # Each worker grades every response (overlapping writes) in its own order.
    order = RESPONSES[index % len(RESPONSES) :] + RESPONSES[: index % len(RESPONSES)]
    scores = {
        text: rv.compute_score(
            "healthbench",
            text,
            "",
            dict(row["extra_info"]),
            judge_url=url,
            judge_model="stub",
            cache=cache,
            max_retries=0,
            total_concurrency=16,
            num_workers=WORKERS,
        )["score"]
        for text in order
    }
    return [scores[text] for text in RESPONSES]


def test_eight_reward_workers_share_one_cache_file(tmp_path: Path) -> None:
    cache = str(tmp_path / "shared.sqlite")
    context = multiprocessing.get_context("spawn")
    with JudgeServer(latency_s=0.01) as server, context.Manager() as manager:
        start = manager.Barrier(WORKERS)
        with context.Pool(WORKERS) as pool:
            got = pool.map(_worker, [(server.url, cache, i, start) for i in range(WORKERS)])
        expected = own_scores(server.url, RESPONSES)
    assert all(scores == pytest.approx(expected) for scores in got)
    import sqlite3

    with sqlite3.connect(cache) as db:
        (rows,) = db.execute("SELECT COUNT(*) FROM judgments").fetchone()
    assert rows == len(RESPONSES) * 5  # every judgment stored once, none lost


def _open_store(args: tuple[str, Any]) -> str:
    path, start = args
    from rubricate.store import Store

    start.wait()
    try:
        Store(path).close()
    except Exception as error:  # reported to the parent, which names it
        return repr(error)
    return "ok"


def test_eight_processes_opening_a_new_cache_at_once_all_succeed(tmp_path: Path) -> None:
    """Reward workers start together and open the cache on their first call. Before the store
    waited for SQLite's WAL switch and created its schema in one transaction, about one
    round in six failed here with 'database is locked' or a duplicate schema row."""
    context = multiprocessing.get_context("spawn")
    failures = []
    with context.Manager() as manager, context.Pool(WORKERS) as pool:
        for round_number in range(15):
            start = manager.Barrier(WORKERS)
            path = str(tmp_path / f"new{round_number}.sqlite")
            results = pool.map(_open_store, [(path, start)] * WORKERS)
            failures += [r for r in results if r != "ok"]
    assert failures == []
