"""The top-level API: a judge from a URL or "local", grade / grade_async with typed options."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import inspect
from pathlib import Path

import pytest

import rubricate
from rubricate.backends import ScriptedJudge
from rubricate.engine import GradeOptions
from rubricate.errors import ConfigError, ModelError
from rubricate.rubric import Criterion, Rubric
from rubricate.settings import JudgeSettings
from rubricate.types import Message, Sample
from tests.support.judge_server import JudgeServer


def samples() -> list[Sample]:
    rubric = Rubric(
        id="r",
        criteria=(
            Criterion(id="dose", text="Gives the dose.", points=7),
            Criterion(id="doctor", text="Suggests a doctor.", points=3),
        ),
    )
    return [Sample("p1", (Message("user", "How much?"),), rubric, "Take 5 mg.")]


def decide(criterion_id: str, _text: str, _message: str) -> str:
    return "met" if "dose" in _text else "not_met"


def test_a_url_judge_grades_through_the_top_level_functions(tmp_path: Path) -> None:
    with JudgeServer(decide=decide) as server:
        judge = rubricate.create_judge(server.url, model="stub", max_retries=0)
        assert judge.fingerprint.startswith("openai:stub")
        result = rubricate.grade(samples(), judge, store=tmp_path / "c.sqlite", mode="grouped")
        assert result.results[0].score == pytest.approx(0.7)
        assert server.requests == 1  # grouped: both criteria in one call
        again = asyncio.run(
            rubricate.grade_async(samples(), judge, store=tmp_path / "c.sqlite", mode="grouped")
        )
        assert again.summary.counts.cache_hits == 2 and server.requests == 1


def test_several_urls_make_a_pool_and_bad_arguments_are_named() -> None:
    pool = rubricate.create_judge(["http://a/v1", "http://b/v1"], model="m")
    assert type(pool).__name__ == "JudgePool"
    with pytest.raises(ConfigError, match="model=NAME"):
        rubricate.create_judge("http://a/v1")
    with pytest.raises(ConfigError, match="argument 'concurrency'"):
        rubricate.create_judge("http://a/v1", model="m", concurrency=0)


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="needs llama-cpp-python")
def test_local_names_the_embedded_judge(tmp_path: Path) -> None:
    with pytest.raises(ModelError):
        rubricate.create_judge("local", model=str(tmp_path / "absent.gguf"))


def test_typed_options_match_their_defaults() -> None:
    """The keyword defaults are the settings' and GradeOptions' own, so they cannot drift."""
    create = inspect.signature(rubricate.create_judge).parameters
    for name in (
        "concurrency",
        "timeout",
        "max_retries",
        "rpm",
        "tpm",
        "hedge_after",
        "temperature",
        "threads",
        "context",
        "on_overflow",
        "explain",
    ):
        assert create[name].default == JudgeSettings.model_fields[name].default, name
    asynchronous = inspect.signature(rubricate.grade_async).parameters
    synchronous = inspect.signature(rubricate.grade).parameters
    assert list(asynchronous) == list(synchronous)
    for option in dataclasses.fields(GradeOptions):
        assert asynchronous[option.name].default == option.default, option.name
        assert asynchronous[option.name].kind is inspect.Parameter.KEYWORD_ONLY
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in asynchronous.values())


def test_grade_leaves_a_borrowed_store_open() -> None:
    judge = ScriptedJudge()
    store = rubricate.Store(":memory:")
    result = rubricate.grade(samples(), judge, store=store, explain=True)
    assert result.summary.n_samples == 1
    store.start_run("still-open", {})  # raises if grade had closed it
    store.close()
