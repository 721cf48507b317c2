"""Commands bound to settings groups: each option is a field of ``rubricate.settings``, declared once.

``bind_settings("judge", "policy")`` gives a command one option per field of those groups
(flag, type, help and choices from the field) plus ``--config FILE``, and calls it with the
loaded ``Settings`` as its ``settings`` keyword. Only options given on the command line
override the config file and the environment.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import typer
from pydantic import SecretStr

from rubricate.cli._app import exit_on_error
from rubricate.settings import CONFIG_ENV, CONFIG_FILE, SettingField, Settings, setting_fields

__all__ = ["ConfigFileOption", "bind_settings", "option_type"]

F = TypeVar("F", bound=Callable[..., None])

ConfigFileOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help=f"TOML settings file (default: ${CONFIG_ENV}, else ./{CONFIG_FILE} if present); "
        "see `rubricate config show`.",
        rich_help_panel="Settings",
    ),
]
_CONFIG_PARAMETER = "config_file"


@dataclass(frozen=True, slots=True)
class _BoundOption:
    parameter: str  # the keyword the synthesized signature uses for this field
    leaf: SettingField


def option_type(leaf: SettingField) -> Any:
    """The type a flag for ``leaf`` parses: ``None`` stripped, secrets and comma lists as text."""
    annotation = leaf.annotation
    if get_origin(annotation) in (Union, types.UnionType):
        remaining = [a for a in get_args(annotation) if a is not type(None)]
        annotation = remaining[0] if len(remaining) == 1 else annotation
    if leaf.repeat:
        return list[str]
    if annotation is SecretStr or get_origin(annotation) is tuple:
        return str
    if get_origin(annotation) is Literal or annotation in (bool, int, float, str, Path):
        return annotation
    raise TypeError(f"setting '{leaf.path}' has no command-line form ({annotation!r})")


def _help(leaf: SettingField) -> str:
    default = leaf.default
    shown = (
        ""
        if leaf.secret or isinstance(default, bool) or default in (None, [], ())
        else f"default {default}; "
    )
    return f"{leaf.description} ({shown}env {leaf.env})"


def _parameter(bound: _BoundOption) -> inspect.Parameter:
    option = typer.Option(
        bound.leaf.flag,
        help=_help(bound.leaf),
        show_default=False,
        rich_help_panel=f"Settings: {bound.leaf.group}",
    )
    return inspect.Parameter(
        bound.parameter,
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[option_type(bound.leaf) | None, option],
        default=None,
    )


def bind_settings(*groups: str, exclude: Collection[str] = ()) -> Callable[[F], F]:
    """Give a command the options of the settings ``groups`` (minus ``exclude``, by path).

    The command declares a keyword-only ``settings: Settings`` parameter and receives the
    settings loaded from ``--config``, the environment and the options given.
    """
    leaves = [f for f in setting_fields() if f.group in groups and f.path not in exclude]
    unknown = set(groups) - {f.group for f in setting_fields()}
    if unknown:
        raise ValueError(f"unknown settings group(s): {', '.join(sorted(unknown))}")
    bound = [_BoundOption(f"{leaf.group}__{leaf.name}", leaf) for leaf in leaves]

    def decorate(command: F) -> F:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != "settings"]
        flags = [b.leaf.flag for b in bound]
        clashes = {flag for flag in flags if flags.count(flag) > 1}
        if clashes or "settings" not in signature.parameters:
            raise TypeError(
                f"{command.__name__}: needs a 'settings' parameter and distinct flags "
                f"(clashing: {', '.join(sorted(clashes)) or 'none'})"
            )
        config = inspect.Parameter(
            _CONFIG_PARAMETER,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=ConfigFileOption,
            default=None,
        )

        @functools.wraps(command)
        def run(**arguments: Any) -> None:
            config_file = arguments.pop(_CONFIG_PARAMETER)
            given: dict[str, dict[str, Any]] = {}
            for option in bound:
                value = arguments.pop(option.parameter)
                if value is None or value == []:
                    continue  # not on the command line: the file or environment decides
                leaf = option.leaf
                given.setdefault(leaf.group, {})[leaf.name] = False if leaf.inverse else value
            with exit_on_error():
                settings = Settings.load(given, config_file=config_file, source="flag")
            command(**arguments, settings=settings)

        parameters = [*own, config, *(_parameter(b) for b in bound)]
        run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        return run  # type: ignore[return-value]

    return decorate
