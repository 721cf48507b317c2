"""The HTTP reward server behind ``rubricate serve`` (needs the ``server`` extra: FastAPI, uvicorn).

Endpoints: ``POST /get_reward`` (OpenRLHF), ``POST /verify`` and ``POST /aggregate_metrics``
(NeMo Gym), ``POST /v1/grade``, ``POST /v1/reward``, ``POST /v1/tournament`` (GRPO groups
rewarded by win rate), ``GET /healthz``, ``GET /metrics`` (Prometheus text).
"""

from rubricate.server._app import ServerSettings, create_app
from rubricate.server._http import (
    GuardedH11Protocol,
    RefuseAmbiguousFraming,
    run_server,
    server_config,
)
from rubricate.server._metrics import Metrics
from rubricate.server._queue import Admission
from rubricate.server._requests import RubricBook, response_after_prompt
from rubricate.server._templates import END_MARKERS, messages_from_template, strip_end_markers

__all__ = [
    "END_MARKERS",
    "Admission",
    "GuardedH11Protocol",
    "Metrics",
    "RefuseAmbiguousFraming",
    "RubricBook",
    "ServerSettings",
    "create_app",
    "messages_from_template",
    "response_after_prompt",
    "run_server",
    "server_config",
    "strip_end_markers",
]
