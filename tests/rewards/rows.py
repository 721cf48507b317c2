"""Rows as verl / RuscaRL parquet files carry them, and rubricate's own score for them."""

from __future__ import annotations

import copy
from typing import Any

import rubricate
from rubricate.backends.openai import OpenAIJudge
from rubricate.engine import run_sync
from rubricate.rewards._inputs import parse_rubric
from rubricate.types import Message, Sample

RUBRIC: list[dict[str, Any]] = [
    {"criterion": "States that the answer is 4", "points": 5, "tags": {"axis": "accuracy"}},
    {"criterion": "Shows the addition step by step", "points": 3, "tags": {"axis": "completeness"}},
    {
        "criterion": "Mentions that 2 + 2 is a basic fact",
        "points": 2,
        "tags": {"axis": "completeness"},
    },
    {
        "criterion": "Is condescending towards the user",
        "points": -4,
        "tags": {"axis": "communication"},
    },
    {"criterion": "Uses no more than three sentences", "points": 1, "tags": {}},
]
NO_ACCURACY = [c for c in RUBRIC if c["tags"].get("axis") != "accuracy"]
QUESTION = [{"role": "user", "content": "What is 2 + 2?"}]
RESPONSES = [
    "It is 4.",
    "2 + 2 = 4, because adding two and two gives four.",
    "Obviously 4. Everyone knows that.",
    "Four. It is a basic arithmetic fact.",
    "The answer is 5.",
    "Let me think: 2, then 3, 4. So 4.",
]


def ruscarl_row(
    prompt: list[dict[str, str]] = QUESTION, rubric: list[dict[str, Any]] = RUBRIC
) -> dict[str, Any]:
    """A row as RuscaRL's prepare_healthbench.py writes it (prompt and reward_model also in extra_info)."""
    reward_model = {"style": "rubric", "rubrics": copy.deepcopy(rubric), "ground_truth": ""}
    return {
        "data_source": "healthbench",
        "prompt": prompt,
        "ability": "medical_chat",
        "reward_model": reward_model,
        "extra_info": {"prompt": prompt, "reward_model": copy.deepcopy(reward_model)},
    }


def own_scores(
    url: str, responses: list[str], prompt: list[dict[str, str]] = QUESTION, **options: Any
) -> list[float | None]:
    """rubricate.grade's scores for ``responses`` against the same judge (the reference)."""
    rubric = parse_rubric(RUBRIC, "rubric", "ref")
    messages = tuple(Message(m["role"], m["content"]) for m in prompt)
    samples = [Sample(f"r{i}", messages, rubric, text) for i, text in enumerate(responses)]

    async def grade() -> list[float | None]:
        async with OpenAIJudge(base_url=url, model="stub") as judge:  # one attempt per call
            result = await rubricate.grade_async(samples, judge, **options)
        return [r.score for r in result.results]

    return run_sync(grade())


def own_scores_for(
    url: str,
    prompts: list[Any],
    responses: list[str],
    rubrics: list[list[dict[str, Any]]] | None = None,
) -> list[float | None]:
    """``own_scores`` for (prompt, response) pairs; a prompt is a string or a message list."""
    samples = []
    for index, (prompt, text) in enumerate(zip(prompts, responses, strict=True)):
        rubric = parse_rubric(RUBRIC if rubrics is None else rubrics[index], "rubric", "ref")
        turns = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        messages = tuple(Message(m["role"], m["content"]) for m in turns)
        samples.append(Sample(f"r{index}", messages, rubric, text))

    async def grade() -> list[float | None]:
        async with OpenAIJudge(base_url=url, model="stub") as judge:
            result = await rubricate.grade_async(samples, judge)
        return [r.score for r in result.results]

    return run_sync(grade())


def own_axes(url: str, responses: list[str], axis: str) -> list[float | None]:
    """rubricate.grade's score on one axis for ``responses`` (the per-axis reference)."""
    rubric = parse_rubric(RUBRIC, "rubric", "ref")
    messages = tuple(Message(m["role"], m["content"]) for m in QUESTION)
    samples = [Sample(f"r{i}", messages, rubric, text) for i, text in enumerate(responses)]

    async def grade() -> list[float | None]:
        async with OpenAIJudge(base_url=url, model="stub") as judge:
            result = await rubricate.grade_async(samples, judge)
        return [r.axes.get(axis) for r in result.results]

    return run_sync(grade())
