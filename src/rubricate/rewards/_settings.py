"""Reward configuration from keyword arguments (verl ``reward_kwargs``, factory arguments) and env.

Judge options are ``JudgeSettings`` fields (``judge_url`` is accepted for ``judge_urls``);
shaping options are ``Shaping`` fields. Anything set explicitly wins over ``RUBRICATE_*``
variables, which win over defaults.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from rubricate.config import JudgeSettings
from rubricate.errors import ConfigError
from rubricate.rewards._shaping import Shaping

__all__ = ["IGNORED_KWARGS", "SHAPING_ENV", "reward_settings", "settings_key"]

SHAPING_ENV = {
    "clip": "RUBRICATE_REWARD_CLIP",
    "normalize": "RUBRICATE_REWARD_NORMALIZE",
    "fallback": "RUBRICATE_REWARD_FALLBACK",
    "gates": "RUBRICATE_REWARD_GATES",
    "gate_floor": "RUBRICATE_REWARD_GATE_FLOOR",
    "soft": "RUBRICATE_SOFT",
    "axes": "RUBRICATE_REWARD_AXES",
}
# Keywords that frameworks pass to every reward function and that rubricate does not use.
IGNORED_KWARGS = frozenset({"reward_router_address", "reward_model_tokenizer"})

_SHAPING_FIELDS = frozenset(f.name for f in fields(Shaping))
_JUDGE_FIELDS = frozenset(JudgeSettings.model_fields)
_ALIASES = {"judge_url": "judge_urls", "model": "judge_model", "url": "judge_urls"}


def _plain(value: Any) -> Any:
    """OmegaConf ListConfig / tuples / comma strings -> plain Python values."""
    if isinstance(value, (str, bytes, int, float, bool)) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "__iter__"):
        return [_plain(v) for v in value]
    return value


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"setting '{name}': expected true or false, got {value!r}")


def _as_float(name: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"setting '{name}': expected a number, got {value!r}") from None


def _shaping_value(name: str, value: Any) -> Any:
    if name in ("clip", "gates", "soft"):
        return _as_bool(name, value)
    if name == "fallback":
        return _as_float(name, value)
    if name == "gate_floor":
        return None if value in (None, "", "none") else _as_float(name, value)
    if name == "axes":
        if value is None:
            return None
        items = value.split(",") if isinstance(value, str) else list(value)
        return tuple(str(a).strip() for a in items if str(a).strip())
    return str(value)


def reward_settings(overrides: Mapping[str, Any] | None = None) -> tuple[JudgeSettings, Shaping]:
    """Judge settings and shaping from ``overrides`` over ``RUBRICATE_*`` variables.

    Raises:
        ConfigError: an unknown key (the message lists the known ones) or a bad value.
    """
    judge: dict[str, Any] = {}
    shaping: dict[str, Any] = {}
    for variable_name, variable in SHAPING_ENV.items():
        raw = os.environ.get(variable)
        if raw:
            shaping[variable_name] = _shaping_value(variable_name, raw)
    unknown = []
    for key, value in (overrides or {}).items():
        if key in IGNORED_KWARGS or value is None:
            continue
        name = _ALIASES.get(key, key)
        value = _plain(value)
        if name in _SHAPING_FIELDS:
            shaping[name] = _shaping_value(name, value)
        elif name in _JUDGE_FIELDS:
            if name == "judge_urls" and isinstance(value, str):
                value = [u.strip() for u in value.split(",") if u.strip()]
            judge[name] = value
        else:
            unknown.append(key)
    if unknown:
        known = sorted(_JUDGE_FIELDS | _SHAPING_FIELDS | set(_ALIASES))
        raise ConfigError(
            f"unknown reward setting(s) {', '.join(sorted(unknown))}; known: {', '.join(known)}"
        )
    soft = bool(shaping.get("soft", judge.get("soft", False)))
    if soft:
        # A soft score needs the judge's probabilities.
        judge["soft"] = True
        judge["probabilities"] = True
    shaping["soft"] = soft
    return JudgeSettings.from_env(**judge), Shaping(**shaping)


def settings_key(settings: JudgeSettings, shaping: Shaping) -> str:
    """A stable identity for sharing one engine between calls with equal settings."""
    return settings.model_dump_json() + "|" + repr(shaping)
