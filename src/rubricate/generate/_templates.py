"""The rubric-generation prompts, shipped as package data under ``templates/`` and loaded by
the one prompt loader (``rubricate.judge.load_prompt``)."""

from __future__ import annotations

from rubricate.judge import PromptTemplate, load_prompt

__all__ = ["TEMPLATE_NAMES", "load_generation_template"]

TEMPLATE_NAMES = ("from_prompt_v1", "contrastive_v1", "decompose_v1", "nuggets_v1")


def load_generation_template(name: str) -> PromptTemplate:
    """The shipped template ``name`` (one of ``TEMPLATE_NAMES``); its version goes into provenance."""
    if name not in TEMPLATE_NAMES:
        raise ValueError(f"unknown generation template '{name}' ({', '.join(TEMPLATE_NAMES)})")
    return load_prompt("rubricate.generate", name)
