"""Fixtures for the reward integrations: a real loopback judge and a clean engine registry."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from rubricate.rewards import close_engines
from tests.support.judge_server import JudgeServer


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("RUBRICATE_"):
            monkeypatch.delenv(name)
    yield
    close_engines()


@pytest.fixture
def judge_server() -> Iterator[JudgeServer]:
    with JudgeServer() as server:
        yield server


@pytest.fixture
def judge_kwargs(judge_server: JudgeServer) -> dict[str, object]:
    """reward_kwargs pointing at the loopback judge, cache off (each test judges afresh)."""
    return {
        "judge_url": judge_server.url,
        "judge_model": "stub",
        "no_cache": True,
        "max_retries": 0,
    }
