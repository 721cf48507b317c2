"""Reading the tree: config file, then environment, then explicit values, each value's source kept."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from rubricate.errors import ConfigError
from rubricate.settings._groups import (
    GenerateSettings,
    JudgeSettings,
    PolicySettings,
    RewardSettings,
    ServeSettings,
    SettingField,
    setting_fields,
)

__all__ = [
    "CONFIG_ENV",
    "CONFIG_FILE",
    "ConfigFileSource",
    "EnvironmentSource",
    "Settings",
    "find_config_file",
]

CONFIG_ENV = "RUBRICATE_CONFIG"
CONFIG_FILE = "rubricate.toml"

Source = Literal["flag", "argument"]


def _fields_by_path() -> dict[str, SettingField]:
    return {f.path: f for f in setting_fields()}


def find_config_file(explicit: str | Path | None = None) -> Path | None:
    """``explicit``, else ``$RUBRICATE_CONFIG``, else ``./rubricate.toml`` if it exists."""
    if explicit is not None:
        return Path(explicit)
    variable = os.environ.get(CONFIG_ENV, "").strip()
    if variable:
        return Path(variable)
    local = Path(CONFIG_FILE)
    return local if local.is_file() else None


_TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-]+)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")


def _key_lines(text: str) -> dict[str, int]:
    """Line number of each ``[table] key = ...`` in a TOML text (for error messages)."""
    lines: dict[str, int] = {}
    table = ""
    for number, line in enumerate(text.splitlines(), start=1):
        header = _TABLE.match(line)
        if header:
            table = header.group(1)
            lines.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            lines.setdefault(f"{table}.{key.group(1)}" if table else key.group(1), number)
    return lines


class ConfigFileSource(TomlConfigSettingsSource):
    """The TOML file layer: ``[group]`` tables of field names (``rubricate config show`` prints one).

    A file that is missing, malformed or holds a secret is a ``ConfigError`` naming it.
    """

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        self.path = path
        self.lines: dict[str, int] = {}
        if path is None:
            super().__init__(settings_cls, toml_file=[])
            return
        if not path.is_file():
            raise ConfigError(f"config file {path}: not found")
        try:
            super().__init__(settings_cls, toml_file=path)
            self.lines = _key_lines(path.read_text(encoding="utf-8"))
        except (
            ValueError,
            OSError,
        ) as error:  # TOMLDecodeError and UnicodeDecodeError are ValueErrors
            raise ConfigError(f"config file {path}: {error}") from None
        fields = _fields_by_path()
        for group, entries in self.toml_data.items():
            for name in entries if isinstance(entries, Mapping) else ():
                found = fields.get(f"{group}.{name}")
                if found is not None and found.secret:
                    raise ConfigError(
                        f"{self.where(group, name)}: setting '{found.path}' is a secret; "
                        f"set {found.env} in the environment instead"
                    )

    def where(self, group: str, name: str | None) -> str:
        line = self.lines.get(f"{group}.{name}" if name else group)
        return f"{self.path}:{line}" if line else str(self.path)


class EnvironmentSource(PydanticBaseSettingsSource):
    """``RUBRICATE_*`` variables, one per field (``Option.env``); empty values are unset."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # values come whole from __call__

    def __call__(self) -> dict[str, Any]:
        data: dict[str, dict[str, str]] = {}
        for leaf in setting_fields():
            value = os.environ.get(leaf.env, "").strip()
            if value:
                data.setdefault(leaf.group, {})[leaf.name] = value
        return data


class Settings(BaseSettings):
    """Everything a run, a server or a trainer integration is configured with.

    ``Settings.load(...)`` is the way in: it layers file, environment and explicit values,
    records each value's source and turns validation errors into a ``ConfigError`` naming
    the setting and its source. ``Settings()`` reads the same layers without that record.
    """

    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    judge: JudgeSettings = Field(default_factory=JudgeSettings, description=JudgeSettings.__doc__)
    policy: PolicySettings = Field(
        default_factory=PolicySettings, description=PolicySettings.__doc__
    )
    reward: RewardSettings = Field(
        default_factory=RewardSettings, description=RewardSettings.__doc__
    )
    serve: ServeSettings = Field(default_factory=ServeSettings, description=ServeSettings.__doc__)
    generate: GenerateSettings = Field(
        default_factory=GenerateSettings, description=GenerateSettings.__doc__
    )

    _origins: dict[str, str] = PrivateAttr(default_factory=dict)
    _config_file: Path | None = PrivateAttr(default=None)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            EnvironmentSource(settings_cls),
            ConfigFileSource(settings_cls, find_config_file()),
        )

    @classmethod
    def load(
        cls,
        values: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        config_file: str | Path | None = None,
        source: Source = "flag",
    ) -> Settings:
        """Defaults < config file < ``RUBRICATE_*`` environment < ``values``.

        Args:
            values: explicit values by group and field (``{"judge": {"concurrency": 8}}``);
                ``None`` values are treated as not given.
            config_file: a TOML file; default ``$RUBRICATE_CONFIG`` or ``./rubricate.toml``.
            source: what ``values`` are called in messages: command-line ``flag`` or ``argument``.

        Raises:
            ConfigError: a bad file or value; the message names the setting and its source.
        """
        path = find_config_file(config_file)
        file_layer = ConfigFileSource(cls, path)
        fields = _fields_by_path()
        explicit = {
            group: {name: value for name, value in entries.items() if value is not None}
            for group, entries in (values or {}).items()
        }

        def label(layer: str, group: str, name: str | None) -> str:
            leaf = fields.get(f"{group}.{name}")
            if layer == "file":
                return f"file {file_layer.where(group, name)}"
            if layer == "env":
                return f"env {leaf.env}" if leaf is not None else "env"
            if layer == "flag" and leaf is not None:
                return f"flag {leaf.flag}"
            return f"{layer} {name or group}"

        merged: dict[str, Any] = {}
        origins: dict[str, str] = {}
        layers = (("file", file_layer()), ("env", EnvironmentSource(cls)()), (source, explicit))
        for layer, data in layers:
            for group, entries in data.items():
                if not isinstance(entries, Mapping):
                    merged[group] = entries
                    origins[group] = label(layer, group, None)
                    continue
                target = merged.get(group)
                if not isinstance(target, dict):
                    target = merged[group] = {}
                    origins[group] = label(layer, group, None)  # for errors about the group
                for name, value in entries.items():
                    target[name] = value
                    origins[f"{group}.{name}"] = label(layer, group, name)
        try:
            settings = cls.model_validate(merged)
        except ValidationError as error:
            raise ConfigError(_describe(error, origins, fields)) from None
        settings._origins = origins
        settings._config_file = path
        return settings

    def source_of(self, path: str) -> str:
        """Where ``path`` (``"judge.concurrency"``) came from: ``default``, ``file …``, ``env …``,
        ``flag …`` or ``argument …``."""
        return self._origins.get(path, "default")

    @property
    def config_file(self) -> Path | None:
        """The TOML file ``load`` read, if any."""
        return self._config_file


def _describe(
    error: ValidationError, origins: Mapping[str, str], fields: Mapping[str, SettingField]
) -> str:
    """One line per problem: the setting, where its value came from, what was wrong."""
    problems = []
    for item in error.errors():
        location = [str(part) for part in item["loc"]]
        path = ".".join(location[:2])
        origin = origins.get(path) or origins.get(location[0] if location else "", "")
        where = f" ({origin})" if origin else ""
        leaf = fields.get(path)
        if item["type"] == "extra_forbidden":
            problems.append(f"setting '{path}'{where}: unknown setting")
            continue
        shown = "" if leaf is not None and leaf.secret else f", got {item['input']!r}"
        problems.append(f"setting '{path}'{where}: {item['msg']}{shown}")
    return "; ".join(problems)
