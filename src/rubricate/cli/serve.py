"""``rubricate serve``: the HTTP reward server (OpenRLHF ``/get_reward`` and native endpoints)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from rubricate.cli._app import app, console, exit_on_error, setup_logging
from rubricate.cli._options import (
    CacheOption,
    ConcurrencyOption,
    ContextOption,
    ExplainOption,
    GroupSizeOption,
    HedgeAfterOption,
    JudgeModelOption,
    JudgeOption,
    JudgeUrlOption,
    MaxRetriesOption,
    MaxTokensOption,
    MethodOption,
    ProbabilitiesOption,
    RpmOption,
    SoftOption,
    ThreadsOption,
    TimeoutOption,
    TpmOption,
)
from rubricate.errors import ConfigError, MissingDependency

logger = logging.getLogger(__name__)

SERVE_HELP = """Serve rubric rewards over HTTP for RL trainers (OpenRLHF, custom loops).

Example:

    rubricate serve --judge-url http://127.0.0.1:8000/v1 --judge-model NAME --port 5000

OpenRLHF: train with `--reward.remote_url http://HOST:5000/get_reward`; each label carries its
rubric as JSON, or the id of a rubric in the file given with --rubrics.
Endpoints: POST /get_reward, POST /v1/grade, POST /v1/reward, GET /healthz, GET /metrics.
One process holds one judge pool and one cache, shared by every request; identical pending
judgments are made once. Beyond --max-pending criteria the server answers 503 with Retry-After.
"""

API_KEY_ENV = "RUBRICATE_SERVER_API_KEY"


@app.command(help=SERVE_HELP)
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 5000,
    rubrics: Annotated[
        Path | None,
        typer.Option(
            help="JSONL/JSON of rubrics ({id, rubric, prompt?}) that labels may name by id."
        ),
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(help=f"Require this bearer token (better: set {API_KEY_ENV}).")
    ] = None,
    max_pending: Annotated[
        int,
        typer.Option(help="Criteria admitted at once; beyond it requests get 503 + Retry-After."),
    ] = 8192,
    deadline: Annotated[
        float, typer.Option(help="Seconds a request may wait for its rewards (504 beyond).")
    ] = 150.0,
    max_body_mb: Annotated[
        float, typer.Option(help="Largest request body in MiB (413 beyond).")
    ] = 32.0,
    clip: Annotated[
        bool, typer.Option("--clip", help="Clip scores to [0, 1] before shaping.")
    ] = False,
    normalize: Annotated[
        str | None,
        typer.Option(
            help="Group normalization: none, zscore or rank (within a prompt's completions)."
        ),
    ] = None,
    fallback: Annotated[
        float | None,
        typer.Option(help="Reward of an ungradable sample (reported in extra_logs.ungradable)."),
    ] = None,
    no_gates: Annotated[
        bool, typer.Option("--no-gates", help="Ignore required criteria (no gate floor).")
    ] = False,
    gate_floor: Annotated[
        float | None, typer.Option(help="Reward floor of a failed gate (default: the rubric's).")
    ] = None,
    axes: Annotated[
        str | None, typer.Option(help="Comma-separated axes to report in extra_logs as axis/NAME.")
    ] = None,
    judge: JudgeOption = None,
    judge_url: JudgeUrlOption = None,
    judge_model: JudgeModelOption = None,
    local_model: Annotated[
        str | None, typer.Option(help="Local judge: a GGUF path or a known model name.")
    ] = None,
    threads: ThreadsOption = None,
    context: ContextOption = None,
    concurrency: ConcurrencyOption = None,
    rpm: RpmOption = None,
    tpm: TpmOption = None,
    timeout: TimeoutOption = None,
    max_retries: MaxRetriesOption = None,
    hedge_after: HedgeAfterOption = None,
    mode: Annotated[str | None, typer.Option(help="per-criterion or grouped.")] = None,
    group_size: GroupSizeOption = None,
    method: MethodOption = None,
    soft: SoftOption = False,
    explain: ExplainOption = False,
    probabilities: ProbabilitiesOption = False,
    max_tokens: MaxTokensOption = None,
    cache: CacheOption = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Neither read nor write the cache.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log requests and retries.")
    ] = False,
) -> None:
    setup_logging(verbose)
    with exit_on_error():
        try:
            import uvicorn  # noqa: F401 - checks the server extra is installed

            from rubricate.server import ServerSettings, create_app, run_server
        except ImportError as error:
            raise MissingDependency("fastapi and uvicorn", "server") from error
        from rubricate.rewards import reward_settings

        if max_pending < 1:
            raise ConfigError("--max-pending must be at least 1")
        if deadline <= 0 or max_body_mb <= 0:
            raise ConfigError("--deadline and --max-body-mb must be positive")
        judge_settings, shaping = reward_settings(
            {
                "judge": judge,
                "judge_urls": judge_url or None,
                "judge_model": judge_model,
                "local_model": local_model,
                "threads": threads,
                "context": context,
                "concurrency": concurrency,
                "rpm": rpm,
                "tpm": tpm,
                "timeout": timeout,
                "max_retries": max_retries,
                "hedge_after": hedge_after,
                "mode": mode,
                "group_size": group_size,
                "method": method,
                "soft": soft or None,
                "explain": explain or None,
                "probabilities": probabilities or None,
                "max_tokens": max_tokens,
                "cache": cache,
                "no_cache": no_cache or None,
                "clip": clip or None,
                "normalize": normalize,
                "fallback": fallback,
                "gates": False if no_gates else None,
                "gate_floor": gate_floor,
                "axes": axes,
            }
        )
        settings = ServerSettings(
            judge=judge_settings,
            shaping=shaping,
            api_key=api_key or os.environ.get(API_KEY_ENV) or None,
            max_pending=max_pending,
            deadline_s=deadline,
            max_body_bytes=int(max_body_mb * 1024 * 1024),
            rubrics=rubrics,
        )
        application = create_app(settings)
        console.print(
            f"rubricate reward server on http://{host}:{port} (POST /get_reward, /v1/grade, /v1/reward)",
            highlight=False,
        )
        run_server(application, host=host, port=port, verbose=verbose)
