"""The HTTP reward server behind ``rubricate serve`` (needs the ``server`` extra: FastAPI, uvicorn).

Endpoints: ``POST /get_reward`` (OpenRLHF), ``POST /verify`` and ``POST /aggregate_metrics``
(NeMo Gym), ``POST /v1/grade``, ``POST /v1/reward``, ``GET /healthz``, ``GET /metrics``
(Prometheus text).
"""

from rubricate.server._app import ServerSettings, create_app
from rubricate.server._metrics import Metrics
from rubricate.server._queue import Admission
from rubricate.server._requests import RubricBook, response_after_prompt

__all__ = [
    "Admission",
    "Metrics",
    "RubricBook",
    "ServerSettings",
    "create_app",
    "response_after_prompt",
]
