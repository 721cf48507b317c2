"""Small builders shared by tests."""

from __future__ import annotations

import json
from pathlib import Path

from rubricate.rubric import Criterion, Rubric
from rubricate.types import Message, Sample


def make_sample(
    sample_id: str, points: list[float], response: str = "Take 5 mg daily.", **kw
) -> Sample:
    criteria = tuple(
        Criterion(id=f"{sample_id}-c{i}", text=f"{sample_id} criterion {i}", points=p, **kw)
        for i, p in enumerate(points)
    )
    return Sample(
        id=sample_id,
        messages=(Message("user", f"Question {sample_id}?"),),
        rubric=Rubric(id=sample_id, criteria=criteria),
        response=response,
    )


def healthbench_line(
    prompt_id: str, rubrics: list[tuple[str, float, list[str]]], response: str | None = None
) -> dict:
    line = {
        "prompt_id": prompt_id,
        "prompt": [{"role": "user", "content": f"Question {prompt_id}"}],
        "rubrics": [{"criterion": c, "points": p, "tags": t} for c, p, t in rubrics],
        "example_tags": ["theme:test"],
        "ideal_completions_data": {"ideal_completion": f"Ideal answer to {prompt_id}"},
    }
    if response is not None:
        line["response"] = response
    return line


def write_jsonl(path: Path, lines: list) -> Path:
    path.write_text("".join((json.dumps(x) if not isinstance(x, str) else x) + "\n" for x in lines))
    return path


SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
