"""``rubricate serve``: the HTTP reward server (OpenRLHF ``/get_reward`` and native endpoints)."""

from __future__ import annotations

import logging

from rubricate.cli._app import app, console, exit_on_error, setup_logging
from rubricate.cli._bind import bind_settings
from rubricate.cli._options import VerboseOption
from rubricate.errors import MissingDependency
from rubricate.rewards import split_monitoring, split_reward_settings
from rubricate.settings import Settings

logger = logging.getLogger(__name__)

SERVE_HELP = """Serve rubric rewards over HTTP for RL trainers (OpenRLHF, NeMo Gym, custom loops).

Example:

    rubricate serve --judge-url http://127.0.0.1:8000/v1 --judge-model NAME --port 5000

OpenRLHF: train with `--reward.remote_url http://HOST:5000/get_reward`; each label carries its
rubric as JSON, or the id of a rubric in the file given with --rubrics. NeMo Gym: the same
server is a resources server (POST /verify, POST /aggregate_metrics).

Endpoints: POST /get_reward, POST /verify, POST /aggregate_metrics, POST /v1/grade,
POST /v1/reward, GET /healthz, GET /metrics; with --docs also GET /docs and GET /openapi.json
(behind --api-key like every endpoint but /healthz).

One process holds one judge pool and one cache, shared by every request; identical pending
judgments are made once. At most --max-pending criteria are admitted at once. Beyond it,
/get_reward and /verify requests (whose clients ignore Retry-After) wait in a bounded line of
--max-queued criteria (default 4 x --max-pending) instead of getting 503; other requests, and
those beyond the line, get 503 with Retry-After.
"""


@app.command(help=SERVE_HELP)
# length_penalty is a run figure; num_workers and total_concurrency budget verl's reward workers.
@bind_settings(
    "serve",
    "reward",
    "judge",
    exclude=(
        "judge.length_penalty",
        "judge.max_error_rate",
        "reward.num_workers",
        "reward.total_concurrency",
    ),
)
def serve(verbose: VerboseOption = False, *, settings: Settings) -> None:
    setup_logging(verbose)
    with exit_on_error():
        try:
            import uvicorn  # noqa: F401 - checks the server extra is installed

            from rubricate.server import ServerSettings, create_app, run_server
        except ImportError as error:
            raise MissingDependency("fastapi and uvicorn", "server") from error
        judge, shaping = split_reward_settings(settings)
        options = settings.serve
        server_settings = ServerSettings(
            judge=judge,
            shaping=shaping,
            api_key=options.api_key.get_secret_value() if options.api_key else None,
            max_pending=options.max_pending,
            deadline_s=options.deadline,
            max_body_bytes=int(options.max_body_mb * 1024 * 1024),
            rubrics=options.rubrics,
            docs=options.docs,
            max_queued=options.max_queued,
            axis_fill=settings.reward.axis_fill,
            monitoring=split_monitoring(settings),
        )
        application = create_app(server_settings)
        console.print(
            f"rubricate reward server on http://{options.host}:{options.port} "
            "(POST /get_reward, /verify, /v1/grade, /v1/reward)",
            highlight=False,
        )
        run_server(application, host=options.host, port=options.port, verbose=verbose)
