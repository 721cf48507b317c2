"""Judge and grading options shared by the commands that grade (``grade``, ``serve``).

Typer needs each option declared on each command; declaring it once here keeps the flags,
defaults and help texts of those commands identical.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = [
    "CacheOption",
    "ConcurrencyOption",
    "ContextOption",
    "ExplainOption",
    "GroupSizeOption",
    "HedgeAfterOption",
    "JudgeModelOption",
    "JudgeOption",
    "JudgeUrlOption",
    "MaxRetriesOption",
    "MaxTokensOption",
    "MethodOption",
    "ProbabilitiesOption",
    "RpmOption",
    "SoftOption",
    "ThreadsOption",
    "TimeoutOption",
    "TpmOption",
]

JudgeOption = Annotated[
    str | None,
    typer.Option(help="'openai' or 'local' (default: openai when --judge-url is given)."),
]
JudgeUrlOption = Annotated[
    list[str] | None,
    typer.Option(help="OpenAI-compatible base URL (…/v1); repeat for a balanced pool."),
]
JudgeModelOption = Annotated[str | None, typer.Option(help="Judge model name on the server.")]
ThreadsOption = Annotated[int | None, typer.Option(help="Local judge CPU threads.")]
ContextOption = Annotated[int | None, typer.Option(help="Local judge context size in tokens.")]
ConcurrencyOption = Annotated[int | None, typer.Option(help="Judge calls in flight.")]
RpmOption = Annotated[float | None, typer.Option(help="Requests-per-minute budget.")]
TpmOption = Annotated[float | None, typer.Option(help="Tokens-per-minute budget.")]
TimeoutOption = Annotated[float | None, typer.Option(help="Per-request timeout in seconds.")]
MaxRetriesOption = Annotated[int | None, typer.Option(help="Retries per call on 429/5xx/timeouts.")]
HedgeAfterOption = Annotated[
    float | None,
    typer.Option(help="Send a backup copy of a judge call unanswered after this many seconds."),
]
GroupSizeOption = Annotated[int | None, typer.Option(help="Criteria per call in grouped mode.")]
MethodOption = Annotated[str | None, typer.Option(help="healthbench, normalized or weighted_mean.")]
SoftOption = Annotated[
    bool, typer.Option("--soft", help="Score with the judge's P(met) where known.")
]
ExplainOption = Annotated[
    bool, typer.Option("--explain", help="Ask for a short explanation per verdict.")
]
ProbabilitiesOption = Annotated[
    bool, typer.Option("--probabilities", help="Ask remote judges for log-probabilities.")
]
MaxTokensOption = Annotated[int | None, typer.Option(help="Completion budget per judge call.")]
CacheOption = Annotated[
    Path | None,
    typer.Option(
        help="SQLite cache file (default ~/.cache/rubricate/store.sqlite or RUBRICATE_CACHE)."
    ),
]
