"""Judge requests, prompt templates and verdict parsing (pure, no I/O)."""

from rubricate.judge._prompt import (
    ANSWER_PREFIX,
    Mode,
    PromptTemplate,
    build_request,
    load_template,
    render_for_debug,
    render_shared,
    response_nonce,
)
from rubricate.judge._types import (
    GRADABLE_LABELS,
    VERDICT_LABELS,
    JudgeReply,
    JudgeRequest,
    Message,
    Sample,
    Usage,
    Verdict,
    VerdictLabel,
)

__all__ = [
    "ANSWER_PREFIX",
    "GRADABLE_LABELS",
    "VERDICT_LABELS",
    "JudgeReply",
    "JudgeRequest",
    "Message",
    "Mode",
    "PromptTemplate",
    "Sample",
    "Usage",
    "Verdict",
    "VerdictLabel",
    "build_request",
    "load_template",
    "render_for_debug",
    "render_shared",
    "response_nonce",
]
