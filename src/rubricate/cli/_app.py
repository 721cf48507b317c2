"""The typer application and the error-to-exit-code mapping shared by every command."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

from rubricate.errors import (
    BackendError,
    ConfigError,
    InputError,
    MissingDependency,
    ModelError,
    RubricateError,
)

app = typer.Typer(
    name="rubricate",
    help="Rubric-based evaluation and rewards for LLM outputs.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)

console = Console(stderr=True)

# Exit codes: stable, documented in the README.
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INPUT = 2
EXIT_BACKEND = 3
EXIT_DEPENDENCY = 4
EXIT_PROBE_GAIN = 5  # rubricate probe --fail-on-gain: a probe's gain interval lies above it
EXIT_ERROR_RATE = 6  # grade / score: more than --max-error-rate of criteria ended in error
EXIT_INTERRUPTED = 130

_CODES: list[tuple[type[RubricateError], int]] = [
    (InputError, EXIT_INPUT),
    (ConfigError, EXIT_INPUT),
    (BackendError, EXIT_BACKEND),
    (MissingDependency, EXIT_DEPENDENCY),
    (ModelError, EXIT_DEPENDENCY),
]


@contextmanager
def exit_on_error() -> Iterator[None]:
    """Turn rubricate errors into one red line and a meaningful exit code."""
    try:
        yield
    except KeyboardInterrupt:
        console.print(
            "[yellow]interrupted[/]: completed judgments are cached; run the same command to resume"
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except RubricateError as error:
        code = next((c for kind, c in _CODES if isinstance(error, kind)), EXIT_INTERNAL)
        console.print(f"[red]error[/] ({error.code}): {escape(str(error))}", highlight=False)
        raise typer.Exit(code) from None


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


Command = Callable[..., None]
