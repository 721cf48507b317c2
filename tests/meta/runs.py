"""Run directories written by hand for the meta-evaluation tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rubricate.results import SampleResult, VerdictRecord


def verdict(
    criterion_id: str,
    label: str,
    *,
    text: str | None = None,
    points: float = 5.0,
    tags: list[str] | None = None,
) -> VerdictRecord:
    return VerdictRecord(
        criterion_id=criterion_id,
        criterion=text if text is not None else f"criterion {criterion_id}",
        points=points,
        tags=tags or [],
        verdict=label,
    )


def result(
    sample_id: str,
    verdicts: list[VerdictRecord],
    *,
    score: float | None = 0.5,
    tags: list[str] | None = None,
    axes: dict[str, float | None] | None = None,
) -> SampleResult:
    return SampleResult(
        sample_id=sample_id,
        rubric_fingerprint="f",
        score=score,
        verdicts=verdicts,
        axes=axes or {},
        metadata={"example_tags": tags or []},
    )


def write_run(directory: Path, results: list[SampleResult]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "results.jsonl", "w", encoding="utf-8") as handle:
        for item in results:
            handle.write(item.model_dump_json() + "\n")
    return directory


def write_jsonl(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path
