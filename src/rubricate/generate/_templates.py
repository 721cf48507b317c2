"""Versioned generation prompts, shipped as package data under ``templates/``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from string import Template

from rubricate.types import Message

__all__ = ["TEMPLATE_NAMES", "GenerationTemplate", "load_generation_template"]

TEMPLATE_NAMES = ("from_prompt_v1", "contrastive_v1", "decompose_v1", "nuggets_v1")
_SPLIT = "\n---user---\n"


@dataclass(frozen=True, slots=True)
class GenerationTemplate:
    """A system and a user prompt with ``$fields``; ``version`` (name@hash) goes into provenance."""

    name: str
    system: str
    user: str
    version: str

    def render(self, **fields: object) -> tuple[Message, ...]:
        """System and user messages with every ``$field`` filled (a missing field raises ``KeyError``)."""
        values = {key: str(value) for key, value in fields.items()}
        return (
            Message("system", Template(self.system).substitute(values)),
            Message("user", Template(self.user).substitute(values)),
        )


@lru_cache(maxsize=8)
def load_generation_template(name: str) -> GenerationTemplate:
    """The shipped template ``name`` (one of ``TEMPLATE_NAMES``)."""
    if name not in TEMPLATE_NAMES:
        raise ValueError(f"unknown generation template '{name}' ({', '.join(TEMPLATE_NAMES)})")
    raw = (
        resources.files("rubricate.generate")
        .joinpath("templates", f"{name}.txt")
        .read_text("utf-8")
    )
    system, _, user = raw.partition(_SPLIT)
    digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:12]
    return GenerationTemplate(name, system.strip() + "\n", user, f"{name}@{digest}")
