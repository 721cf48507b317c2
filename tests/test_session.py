"""One session builds judge, store, policy and grader from settings and closes all of them."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from rubricate.backends import ScriptedJudge
from rubricate.errors import ConfigError
from rubricate.rubric import Criterion, Rubric
from rubricate.session import Session
from rubricate.settings import JudgeSettings, Settings
from rubricate.store import Store
from rubricate.types import Message, Sample
from tests.support.judge_server import JudgeServer


class ClosingJudge(ScriptedJudge):
    """A scripted judge that records ``aclose`` and can fail it."""

    def __init__(self, *, fail_close: bool = False) -> None:
        super().__init__()
        self.closed = 0
        self.fail_close = fail_close

    async def aclose(self) -> None:
        self.closed += 1
        if self.fail_close:
            raise RuntimeError("judge refused to close")


def sample(response: str | None = "hello") -> Sample:
    rubric = Rubric(id="s1", criteria=(Criterion(id="a", text="Says hello.", points=1),))
    return Sample("s1", (Message("user", "Greet me."),), rubric, response)


def is_closed(store: Store) -> bool:
    try:
        store.start_run("probe", {})
    except ConfigError as error:  # the store reports SQLite's refusal, naming the file
        return isinstance(error.__cause__, sqlite3.ProgrammingError) and "closed" in str(error)
    return False


def test_settings_build_judge_store_and_grader_and_close_them(tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite"
    with JudgeServer(decide=lambda *_: "met") as server:
        settings = JudgeSettings(judge_urls=[server.url], judge_model="stub", cache=cache)
        with Session(settings) as session:
            assert session.judge.fingerprint.startswith("openai:stub")
            result = asyncio.run(session.grader.grade_sample(sample()))
            assert result.score == 1.0 and session.store is not None
            store = session.store
        assert is_closed(store)
        assert server.requests == 1
        # The grader was flushed into the cache before the store closed: no second call.
        with Session(settings) as again:
            asyncio.run(again.grader.grade_sample(sample()))
        assert server.requests == 1


def test_async_form_and_a_policy_from_the_whole_settings(tmp_path: Path) -> None:
    async def run(settings: Settings) -> tuple[Store | None, object]:
        async with Session(settings) as session:
            assert session.policy is not None and session.policy_max_tokens == 64
            assert session.sampler is not None  # the policy-sampling stage, before grading
            await session.grader.grade_sample(await session.sampler.respond(sample(None)))
            return session.store, session.policy

    with JudgeServer() as judge, JudgeServer() as policy:
        settings = Settings.load(
            {
                "judge": {"judge_urls": [judge.url], "judge_model": "j", "cache": tmp_path / "c"},
                "policy": {"urls": [policy.url], "model": "p", "max_tokens": 64},
            }
        )
        store, _ = asyncio.run(run(settings))
        assert policy.requests == 1 and policy.log[0]["max_tokens"] == 64
    assert store is not None and is_closed(store)


def test_a_failing_constructor_closes_what_it_built(tmp_path: Path) -> None:
    judge = ClosingJudge()
    no_policy_model = Settings.load({"policy": {"urls": ["http://127.0.0.1:9/v1"]}})
    with pytest.raises(ConfigError, match="--policy-model"):
        Session(no_policy_model, judge=judge, owns_judge=True, store=tmp_path / "c.sqlite")
    assert judge.closed == 1
    (tmp_path / "dir.sqlite").mkdir()
    unopenable = ClosingJudge()
    with pytest.raises(ConfigError, match="cannot open the store"):
        Session(judge=unopenable, owns_judge=True, store=tmp_path / "dir.sqlite")
    assert unopenable.closed == 1


def test_closing_goes_on_past_a_failure_and_only_once(tmp_path: Path) -> None:
    judge, policy = ClosingJudge(fail_close=True), ClosingJudge()
    session = Session(judge=judge, owns_judge=True, policy=policy, store=tmp_path / "c.sqlite")
    store = session.store
    assert store is not None
    with pytest.raises(RuntimeError, match="refused"):
        session.close()
    assert judge.closed == 1 and policy.closed == 1 and is_closed(store)
    session.close()  # idempotent: nothing is closed twice
    assert judge.closed == 1


def test_borrowed_resources_stay_open() -> None:
    judge, policy = ClosingJudge(), ClosingJudge()
    store = Store(":memory:")
    with Session(judge=judge, store=store, policy=policy, owns_policy=False):
        pass
    assert judge.closed == 0 and policy.closed == 0 and not is_closed(store)
    store.close()
