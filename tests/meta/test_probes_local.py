"""Probes end to end with the embedded llama.cpp judge (SmolLM2-135M, on the CPU).

SmolLM2 is near-constant: this pins the plumbing (real model calls through
``rubricate.grade_async``, every variant paired and counted, probes.json written), not a
judge's robustness, which ``bench/README.md`` reports for a real judge.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from rubricate.meta import INJECTIONS, run_probes_async
from rubricate.rubric import Criterion, Rubric
from rubricate.types import Message, Sample

MODEL = "smollm2-135m"


def local_judge():  # type: ignore[no-untyped-def]
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed (pip install 'rubricate[local]')")
    from rubricate.errors import ModelError
    from rubricate.models import resolve_model

    try:
        path = resolve_model(MODEL)
    except ModelError as error:
        pytest.skip(f"the {MODEL} model is not installed: {error}")
    from rubricate.backends.llamacpp import LlamaCppJudge

    return LlamaCppJudge(path, n_ctx=2048, n_threads=1)


def sample(sample_id: str, response: str) -> Sample:
    criteria = (
        Criterion(id="paris", text="States that the capital of France is Paris.", points=5),
        Criterion(id="short", text="Answers in one sentence.", points=2),
    )
    return Sample(
        sample_id,
        # Distinct questions: identical requests of two samples would be asked once.
        (Message("user", f"({sample_id}) What is the capital of France? Answer in one sentence."),),
        Rubric(id=sample_id, criteria=criteria),
        response,
    )


async def test_probes_run_against_a_real_local_judge(tmp_path: Path) -> None:
    judge = local_judge()
    samples = [
        sample("good", "The capital of France is Paris."),
        sample("bad", "France has no capital."),
    ]
    try:
        report = await run_probes_async(
            samples, judge, tmp_path, probes=["injection", "self_consistency"], n_resamples=100
        )
    finally:
        judge.close()
    injection, again = report.probes["injection"], report.probes["self_consistency"]
    assert injection.n == 2 * len(INJECTIONS)
    assert injection.judge_calls == 2 * 2 * len(INJECTIONS)  # no cache: every criterion asked
    assert again.judge_calls == 2 * 2
    for outcome in (injection, again):
        assert outcome.gain.value is not None and -1.0 <= outcome.gain.value <= 1.0
        assert outcome.flipped is not None and 0.0 <= outcome.flipped <= 1.0
    written = json.loads((tmp_path / "probes.json").read_text(encoding="utf-8"))
    assert set(written) == {"injection", "self_consistency"}
