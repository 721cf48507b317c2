"""Run options shared by commands that are not settings: what to read, how to report.

Judge, policy, reward, server and generation options are settings fields, bound to the
commands by ``cli._bind.bind_settings``; the options here belong to one invocation.
"""

from __future__ import annotations

from typing import Annotated

import typer

from rubricate.runs import OnInvalid

__all__ = ["LimitOption", "OnInvalid", "OnInvalidOption", "QuietOption", "VerboseOption"]

OnInvalidOption = Annotated[
    OnInvalid,
    typer.Option(help="'error' stops at the first bad line; 'skip' counts it and goes on."),
]
LimitOption = Annotated[
    int | None, typer.Option(min=0, help="Only the first N samples (grade) or items (generate).")
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress bar or per-item lines.")
]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Log retries, skipped lines and every step.")
]
