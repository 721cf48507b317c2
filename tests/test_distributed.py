"""Grading on a local Ray instance writes what a local ``rubricate grade`` run writes.

(Lives here for now; ``tests/test_distributed.py`` is its natural home.)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from rubricate.distributed import grade_on_ray, sample_from_row, sample_to_row  # noqa: E402
from rubricate.engine import Grader  # noqa: E402
from rubricate.errors import InputError  # noqa: E402
from rubricate.formats import read_samples  # noqa: E402
from rubricate.runs import grade_to_dir  # noqa: E402
from rubricate.settings import JudgeSettings, build_judge  # noqa: E402
from tests.rewards.rows import RESPONSES, RUBRIC  # noqa: E402
from tests.support.judge_server import JudgeServer  # noqa: E402


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield
    ray.shutdown()


def write_data(path: Path, count: int) -> Path:
    lines = []
    for index in range(count):
        record = {
            "id": f"s{index}",
            "prompt": [{"role": "user", "content": f"Question {index}: what is 2 + 2?"}],
            "response": RESPONSES[index % len(RESPONSES)] + f" ({index})",
            "rubric": RUBRIC,
        }
        lines.append(json.dumps(record))
    lines.insert(3, '{"id": "broken", "prompt": "no rubric here"}')
    path.write_text("\n".join(lines) + "\n")
    return path


def settings_for(url: str) -> JudgeSettings:
    return JudgeSettings(
        judge_urls=[url], judge_model="stub", no_cache=True, concurrency=8, max_retries=0
    )


def test_rows_round_trip(tmp_path: Path) -> None:
    data = write_data(tmp_path / "one.jsonl", 1)
    (sample,) = [s for s in read_samples(data) if not isinstance(s, InputError)]
    assert sample_from_row(sample_to_row(sample)) == sample


def test_ray_run_writes_the_same_results_as_a_local_run(tmp_path: Path, local_ray: None) -> None:
    data = write_data(tmp_path / "data.jsonl", 40)
    with JudgeServer() as server:
        settings = settings_for(server.url)

        async def local() -> object:
            judge = build_judge(settings)
            try:
                grader = Grader(judge, options=settings.grade_options())
                return await grade_to_dir(
                    grader, read_samples(data), tmp_path / "local", on_invalid="skip"
                )
            finally:
                await judge.aclose()

        local_summary = asyncio.run(local())
        ray_summary = grade_on_ray(
            read_samples(data),
            settings,
            tmp_path / "ray",
            address=None,
            workers=2,
            batch_size=8,
            window=16,
            on_invalid="skip",
        )
    local_lines = (tmp_path / "local" / "results.jsonl").read_text().splitlines()
    ray_lines = (tmp_path / "ray" / "results.jsonl").read_text().splitlines()
    assert ray_lines == local_lines and len(ray_lines) == 40
    ignore = {"elapsed_s"}
    assert ray_summary.model_dump(exclude=ignore) == local_summary.model_dump(exclude=ignore)  # type: ignore[attr-defined]
    written = json.loads((tmp_path / "ray" / "summary.json").read_text())
    assert written["counts"]["skipped_lines"] == 1 and written["counts"]["judge_calls"] == 40 * len(
        RUBRIC
    )


def test_ray_run_stops_at_a_bad_record_by_default(tmp_path: Path, local_ray: None) -> None:
    data = write_data(tmp_path / "data.jsonl", 5)
    with JudgeServer() as server, pytest.raises(InputError, match=r"data.jsonl:4, field .rubric."):
        grade_on_ray(read_samples(data), settings_for(server.url), tmp_path / "ray", address=None)
