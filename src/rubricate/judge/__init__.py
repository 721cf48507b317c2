"""Judge requests, prompt templates and verdict parsing (pure, no I/O)."""

from rubricate.judge._choice import choice_index
from rubricate.judge._json import JsonEnd
from rubricate.judge._parse import (
    json_objects,
    normalise_label,
    parse_group_reply,
    parse_single_reply,
)
from rubricate.judge._prompt import (
    ANSWER_PREFIX,
    Mode,
    PromptTemplate,
    build_request,
    judge_context,
    load_prompt,
    load_template,
    render_for_debug,
    render_shared,
    response_nonce,
)

__all__ = [
    "ANSWER_PREFIX",
    "JsonEnd",
    "Mode",
    "PromptTemplate",
    "build_request",
    "choice_index",
    "json_objects",
    "judge_context",
    "load_prompt",
    "load_template",
    "normalise_label",
    "parse_group_reply",
    "parse_single_reply",
    "render_for_debug",
    "render_shared",
    "response_nonce",
]
