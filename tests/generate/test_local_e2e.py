"""Every strategy end to end with the embedded llama.cpp judge (SmolLM2-135M, on the CPU).

SmolLM2 is near-constant and rarely writes a valid rubric: these tests pin the plumbing
(real model calls, outcomes accounted, lines the grader reads back), not rubric quality.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from rubricate.formats import read_healthbench
from rubricate.generate import (
    BankEntry,
    GenerateOptions,
    GenerationItem,
    GenerationResult,
    RefineOptions,
    RubricBank,
    generate_rubrics,
)
from rubricate.rubric import Criterion, Rubric
from rubricate.store import Store
from rubricate.types import Message

MODEL = "smollm2-135m"


def _local_judge():  # type: ignore[no-untyped-def]
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed (pip install 'rubricate[local]')")
    from rubricate.errors import ModelError
    from rubricate.models import resolve_model

    try:
        path = resolve_model(MODEL)
    except ModelError as error:
        pytest.skip(f"the {MODEL} model is not installed: {error}")
    from rubricate.backends.llamacpp import LlamaCppJudge

    # One thread: two spin-waiting threads collapse when another process holds a core.
    return LlamaCppJudge(path, n_ctx=2048, n_threads=1)


@pytest.fixture(scope="module")
def judge() -> Iterator[object]:
    local = _local_judge()
    yield local
    local.close()


OPTIONS = GenerateOptions(max_tokens=96, reasks=0, regenerations=1, min_criteria=1, max_criteria=3)
PROMPT = (Message("user", "What is the capital of France? Answer in one sentence."),)
GOOD = "The capital of France is Paris."
BAD = "France has no capital city."


def check(result: GenerationResult, items: int, tmp_path) -> None:
    stats = result.stats
    assert stats.items == items == stats.kept + stats.dropped + stats.failed
    assert stats.generator_calls + stats.generator_cache_hits > 0
    out = tmp_path / "rubrics.jsonl"
    out.write_text("".join(r.model_dump_json() + "\n" for r in result.rubrics))
    for line, sample in zip(
        result.rubrics, read_healthbench(out, response_source="none"), strict=True
    ):
        assert sample.rubric.fingerprint == line.provenance.rubric_fingerprint
        assert line.provenance.model.startswith("llamacpp:")


def test_from_prompt_and_nuggets(judge, tmp_path) -> None:
    item = GenerationItem(
        "p1", PROMPT, reference=GOOD, passages=("Paris has been the capital since 987.",)
    )
    for strategy in ("from-prompt", "nuggets"):
        check(generate_rubrics([item], judge, strategy=strategy, options=OPTIONS), 1, tmp_path)


def test_contrastive_grades_both_responses(judge, tmp_path) -> None:
    item = GenerationItem("c1", PROMPT, chosen=GOOD, rejected=BAD)
    with Store(tmp_path / "cache.sqlite") as store:
        result = generate_rubrics(
            [item], judge, strategy="contrastive", options=OPTIONS, store=store
        )
        check(result, 1, tmp_path)
        (outcome,) = result.outcomes
        if outcome.outcome != "failed":  # a rubric was written, so both responses were graded
            assert result.stats.judge_calls > 0
        again = generate_rubrics(
            [item], judge, strategy="contrastive", options=OPTIONS, store=store
        )
    assert again.stats.generator_calls == 0 and again.stats.judge_calls == 0  # all cached
    assert [o.outcome for o in again.outcomes] == [outcome.outcome]


def test_refine_grades_and_reweights(judge, tmp_path) -> None:
    rubric = Rubric(
        id="r1",
        criteria=(
            Criterion(text="States that Paris is the capital of France.", points=5),
            Criterion(text="Answers in exactly one sentence about France.", points=2),
        ),
    )
    item = GenerationItem("r1", PROMPT, rubric=rubric, responses=(GOOD, BAD), preferences=((0, 1),))
    result = generate_rubrics(
        [item], judge, strategy="refine", options=OPTIONS, refine_options=RefineOptions(max_depth=1)
    )
    check(result, 1, tmp_path)
    (outcome,) = result.outcomes
    assert outcome.outcome == "kept" and outcome.criteria and result.stats.judge_calls >= 4
    assert outcome.details["rounds"] >= 1


def test_retrieve_conditions_on_the_bank(judge, tmp_path) -> None:
    bank = RubricBank(
        [
            BankEntry(
                "b1",
                "What is the capital of Spain?",
                (Criterion(text="States that Madrid is the capital of Spain.", points=5),),
            ),
            BankEntry(
                "b2",
                "How do I bake bread?",
                (Criterion(text="Mentions kneading the dough.", points=3),),
            ),
        ]
    )
    result = generate_rubrics(
        [GenerationItem("q1", PROMPT)], judge, strategy="retrieve", bank=bank, k=1, options=OPTIONS
    )
    check(result, 1, tmp_path)
    assert result.outcomes[0].source_ids == ["q1", "b1"]
