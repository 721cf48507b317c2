"""Fixtures of the hostile-input suite: the loopback judge and live reward server of tests/server."""

from __future__ import annotations

from tests.server.conftest import _no_rubricate_env, judge_server, serve

__all__ = ["_no_rubricate_env", "judge_server", "serve"]
