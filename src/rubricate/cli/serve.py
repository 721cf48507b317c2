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
POST /v1/reward, POST /v1/tournament, GET /healthz, GET /metrics; with --docs also GET /docs
and GET /openapi.json (behind --api-key like every endpoint but /healthz).

POST /v1/tournament rewards whole GRPO groups by win rate inside each group:

    curl -s http://HOST:5000/v1/tournament -H 'content-type: application/json' -d '{"groups":
      [{"prompt": "Name a prime.", "completions": ["2", "9", "7 (it is prime)"]}],
      "opponents": 2, "orders": "both", "seed": 0}'

Each group (2 to --tournament-max-group completions; optional "rubric" or "rubric_id" makes
the matches criterion-wise) plays matches in both orders (or "one"); a completion's reward is
(wins + ties/2) / decisions in [0, 1], null with a reason when none came back. Judge calls
per group of G with nothing cached = matches x orders (2 or 1) x criteria (1 without a
rubric), where matches = G(G-1)/2 for a round robin, or G x ceil(K/2) with "opponents": K
(default --tournament-opponents; K <= G-1; a round robin once 2 x ceil(K/2) >= G-1) on a ring
shuffled by "seed" and the prompt. So a round robin in both orders costs G(G-1) calls. Each
group's reply states judge_calls_planned, judge_calls, cache_hits and errors; a repeated
request is served from the cache; planned calls count as criteria against --max-pending.

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
            tournament_max_group=options.tournament_max_group,
            tournament_opponents=options.tournament_opponents,
        )
        application = create_app(server_settings)
        console.print(
            f"rubricate reward server on http://{options.host}:{options.port} "
            "(POST /get_reward, /verify, /v1/grade, /v1/reward, /v1/tournament)",
            highlight=False,
        )
        run_server(application, host=options.host, port=options.port, verbose=verbose)
