"""Reward configuration from keyword arguments (verl ``reward_kwargs``, factory arguments).

Keys are fields of the ``judge`` and ``reward`` settings groups (``judge_url``, ``url`` and
``model`` are accepted for ``judge_urls`` and ``judge_model``). They are read like any other
settings (``rubricate.settings``): config file, then ``RUBRICATE_*`` environment, then these
arguments, and a bad value names its source.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from rubricate.errors import ConfigError
from rubricate.rewards._shaping import Shaping
from rubricate.settings import JudgeSettings, RewardSettings, Settings, find_config_file

__all__ = [
    "IGNORED_KWARGS",
    "load_reward_settings",
    "reward_settings",
    "settings_key",
    "split_reward_settings",
]

# Keywords that frameworks pass to every reward function and that rubricate does not use.
IGNORED_KWARGS = frozenset({"reward_router_address", "reward_model_tokenizer"})

_ALIASES = {"judge_url": "judge_urls", "model": "judge_model", "url": "judge_urls"}
_GROUP_OF = {
    **{name: "judge" for name in JudgeSettings.model_fields},
    **{name: "reward" for name in RewardSettings.model_fields},
}


def _plain(value: Any) -> Any:
    """OmegaConf ListConfig / DictConfig / tuples -> plain Python values."""
    if isinstance(value, (str, bytes, int, float, bool)) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "__iter__"):
        return [_plain(v) for v in value]
    return value


def split_reward_settings(settings: Settings) -> tuple[JudgeSettings, Shaping]:
    """The judge settings and shaping a reward engine runs with.

    A soft score needs the judge's probabilities, so ``soft`` turns ``probabilities`` on.
    """
    judge = settings.judge
    if judge.soft and not judge.probabilities:
        judge = judge.model_copy(update={"probabilities": True})
    reward = settings.reward
    shaping = Shaping(
        clip=reward.clip,
        normalize=reward.normalize,
        fallback=reward.fallback,
        gates=reward.gates,
        gate_floor=reward.gate_floor,
        soft=judge.soft,
        axes=reward.axes,
    )
    return judge, shaping


def _inputs_key(values: Mapping[str, Mapping[str, Any]]) -> str:
    """Everything ``Settings.load`` reads: the values, ``RUBRICATE_*`` and the config file."""
    path = find_config_file()
    stamp: tuple[str, int, int] | tuple[str, None] | None
    try:
        if path is None:
            stamp = None
        else:
            status = path.stat()  # the size too: a rewrite may keep a coarse mtime
            stamp = (str(path.resolve()), status.st_mtime_ns, status.st_size)
    except OSError:
        stamp = (str(path), None)  # a missing file: load reports it
    environment = sorted((k, v) for k, v in os.environ.items() if k.startswith("RUBRICATE_"))
    return repr((sorted((g, sorted(e.items())) for g, e in values.items()), environment, stamp))


# verl calls a reward function per sample, thousands of times a step, with the same keywords;
# loading the settings each time would cost more than the cached judgment it asks for.
_LOADED: dict[str, tuple[Settings, JudgeSettings, Shaping]] = {}
_LOADED_MAX = 64


def _loaded(overrides: Mapping[str, Any] | None) -> tuple[Settings, JudgeSettings, Shaping]:
    values: dict[str, dict[str, Any]] = {}
    unknown = []
    for key, value in (overrides or {}).items():
        if key in IGNORED_KWARGS or value is None:
            continue
        name = _ALIASES.get(key, key)
        group = _GROUP_OF.get(name)
        if group is None:
            unknown.append(key)
            continue
        values.setdefault(group, {})[name] = _plain(value)
    if unknown:
        known = sorted(set(_GROUP_OF) | set(_ALIASES))
        raise ConfigError(
            f"unknown reward setting(s) {', '.join(sorted(unknown))}; known: {', '.join(known)}"
        )
    key = _inputs_key(values)
    loaded = _LOADED.get(key)
    if loaded is None:
        settings = Settings.load(values, source="argument")
        loaded = (settings, *split_reward_settings(settings))
        if len(_LOADED) >= _LOADED_MAX:
            _LOADED.clear()
        _LOADED[key] = loaded
    return loaded


def load_reward_settings(overrides: Mapping[str, Any] | None = None) -> Settings:
    """The whole settings tree with ``overrides`` (keyword arguments) over the config file and
    ``RUBRICATE_*``, each value's source kept (``Settings.source_of``).

    Raises:
        ConfigError: an unknown key (the message lists the known ones) or a bad value.
    """
    return _loaded(overrides)[0]


def reward_settings(overrides: Mapping[str, Any] | None = None) -> tuple[JudgeSettings, Shaping]:
    """Judge settings and shaping from ``overrides`` over the config file and ``RUBRICATE_*``.

    Raises:
        ConfigError: an unknown key (the message lists the known ones) or a bad value.
    """
    _, judge, shaping = _loaded(overrides)
    return judge, shaping


def settings_key(settings: JudgeSettings, shaping: Shaping) -> str:
    """A stable identity for sharing one engine between calls with equal settings."""
    return settings.model_dump_json() + "|" + repr(shaping)
