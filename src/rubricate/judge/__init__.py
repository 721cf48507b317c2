"""Judge requests, prompt templates and verdict parsing (pure, no I/O)."""

from rubricate.judge._choice import choice_index
from rubricate.judge._evidence import (
    FUZZY_MIN_CHARS,
    FUZZY_THRESHOLD,
    check_evidence,
    evidence_status,
    quote_found,
    read_quotes,
    require_evidence,
)
from rubricate.judge._json import JsonEnd
from rubricate.judge._parse import (
    json_objects,
    normalise_label,
    parse_group_reply,
    parse_single_reply,
)
from rubricate.judge._prompt import (
    ANSWER_PREFIX,
    Layout,
    Mode,
    PromptTemplate,
    build_request,
    build_rubric_first_request,
    judge_context,
    load_prompt,
    load_template,
    render_conversation,
    render_for_debug,
    render_response,
    render_shared,
    response_nonce,
)
from rubricate.judge._schema import SCHEMA_VERSION, reply_schema

__all__ = [
    "ANSWER_PREFIX",
    "FUZZY_MIN_CHARS",
    "FUZZY_THRESHOLD",
    "SCHEMA_VERSION",
    "JsonEnd",
    "Layout",
    "Mode",
    "PromptTemplate",
    "build_request",
    "build_rubric_first_request",
    "check_evidence",
    "choice_index",
    "evidence_status",
    "json_objects",
    "judge_context",
    "load_prompt",
    "load_template",
    "normalise_label",
    "parse_group_reply",
    "parse_single_reply",
    "quote_found",
    "read_quotes",
    "render_conversation",
    "render_for_debug",
    "render_response",
    "render_shared",
    "reply_schema",
    "require_evidence",
    "response_nonce",
]
