"""Fixtures: a loopback judge and a live reward server in front of it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from rubricate.rewards import Shaping
from rubricate.server import ServerSettings, create_app
from rubricate.settings import JudgeSettings
from tests.server.live import LiveServer
from tests.support.judge_server import JudgeServer


@pytest.fixture(autouse=True)
def _no_rubricate_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("RUBRICATE_"):
            monkeypatch.delenv(name)


@pytest.fixture
def judge_server() -> Iterator[JudgeServer]:
    with JudgeServer() as server:
        yield server


Serve = Callable[..., LiveServer]


@pytest.fixture
def serve(tmp_path: Any) -> Iterator[Serve]:
    """``serve(judge_url, shaping=..., **server_settings)`` -> a running LiveServer."""
    started: list[LiveServer] = []

    def start(
        judge_url: str, *, shaping: Shaping | None = None, cache: bool = True, **options: Any
    ) -> LiveServer:
        judge = JudgeSettings(
            judge_urls=[judge_url],
            judge_model="stub",
            max_retries=options.pop("max_retries", 0),
            cache=tmp_path / f"cache{len(started)}.sqlite",
            no_cache=not cache,
        )
        settings = ServerSettings(judge=judge, shaping=shaping or Shaping(), **options)
        server = LiveServer(create_app(settings))
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()
