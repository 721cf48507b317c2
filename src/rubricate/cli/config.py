"""``rubricate config show``: the effective settings and where each value came from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from rubricate.cli._app import app
from rubricate.cli._bind import bind_settings
from rubricate.settings import Settings, setting_fields

__all__ = ["render_settings"]

config_app = typer.Typer(
    name="config",
    help="The settings every command reads: config file, then RUBRICATE_* environment, then flags.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(config_app, name="config")

# ``generate`` spells its generation budget and re-asks --max-tokens and --reasks, like the
# judge's; here the flags set the judge's and the generation ones come from file or env.
_SHOW_GROUPS = ("judge", "policy", "reward", "serve", "generate")
_SHOW_EXCLUDES = ("generate.max_tokens", "generate.reasks")
_COMMENT_COLUMN = 44


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return json.dumps(str(value) if isinstance(value, Path) else value, ensure_ascii=False)


def render_settings(settings: Settings) -> str:
    """The settings as a TOML file, each line commented with its value's source.

    Unset values and secrets are comments; secrets show only whether they are set.
    """
    config_file = settings.config_file
    lines = [
        "# rubricate settings: default < config file < environment < flags",
        f"# config file: {config_file if config_file is not None else 'none'}",
    ]
    group = ""
    for leaf in setting_fields():
        if leaf.group != group:
            group = leaf.group
            lines += ["", f"[{group}]"]
        value = getattr(getattr(settings, leaf.group), leaf.name)
        if leaf.secret:
            text = f"# {leaf.name} = {'(set, hidden)' if value is not None else '(not set)'}"
        elif value is None:
            text = f"# {leaf.name} = (not set)"
        else:
            text = f"{leaf.name} = {_toml_value(value)}"
        lines.append(f"{text.ljust(_COMMENT_COLUMN)}  # {settings.source_of(leaf.path)}")
    return "\n".join(lines)


@config_app.command("show")
@bind_settings(*_SHOW_GROUPS, exclude=_SHOW_EXCLUDES)
def show(*, settings: Settings) -> None:
    """Print the effective settings as TOML, each value with its source (default, file, env,
    flag); secrets are never printed. Any command's settings flags may be given to see their
    effect."""
    typer.echo(render_settings(settings))
