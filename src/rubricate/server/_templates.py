"""Chat-templated text back into messages, and end-of-turn markers off a response, in linear time.

Policies decode prompts and rollouts with their special tokens (OpenRLHF does), so the
server sees ``<|im_start|>user\\n...<|im_end|>`` rather than messages. Every function here
scans its input a bounded number of times: a regular expression with a lazy ``.*?`` between
markers, or stripping one marker per string copy, is quadratic on a body full of markers
(563 KiB of ``<|im_start|>`` held the event loop for minutes).

Supported templates: ChatML (Qwen, Yi), Llama 3, Gemma, Mistral (``[INST]``) and DeepSeek
(V3 / R1, full-width ``<｜User｜>`` markers).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rubricate.types import Message

__all__ = ["END_MARKERS", "messages_from_template", "strip_end_markers"]

# End-of-turn markers a policy's decoded text may end with (OpenRLHF decodes with special tokens).
END_MARKERS = (
    "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "</s>", "<|end|>",
    "<end_of_turn>", "<eos>", "<|eos|>", "<｜end▁of▁sentence｜>", "<|return|>",
)  # fmt: skip

_MAX_ROLE = 64  # a role name longer than this is not a role: the marker is text
_ROLE = re.compile(r"\w+")
_GEMMA_ROLES = {"model": "assistant"}

_DEEPSEEK_BOS = "<｜begin▁of▁sentence｜>"
_DEEPSEEK_EOS = "<｜end▁of▁sentence｜>"
_DEEPSEEK_MARKERS = re.compile(r"<｜User｜>|<｜Assistant｜>")
_MISTRAL_MARKERS = re.compile(r"\[INST\]|\[/INST\]|\[SYSTEM_PROMPT\]|\[/SYSTEM_PROMPT\]")


_MARKER_SET = frozenset(END_MARKERS)
_MARKER_LENGTHS = tuple(sorted({len(m) for m in END_MARKERS}))


def strip_end_markers(text: str) -> str:
    """``text`` without trailing end-of-turn markers and whitespace, however many there are.

    Moves an end index back instead of cutting a copy per marker (which was quadratic).
    """
    end = len(text)
    while True:
        while end and text[end - 1].isspace():
            end -= 1
        if not text.endswith(END_MARKERS, 0, end):
            return text[:end].strip()
        end -= next(n for n in _MARKER_LENGTHS if text[end - n : end] in _MARKER_SET)


def _delimited(
    text: str, start: str, role_end: str, stop: str, roles: dict[str, str] | None = None
) -> list[Message]:
    """Turns written ``start ROLE role_end CONTENT stop``; each character is scanned a
    bounded number of times (the role window is at most ``_MAX_ROLE`` long)."""
    messages: list[Message] = []
    position = 0
    while True:
        at = text.find(start, position)
        if at < 0:
            return messages
        role_at = at + len(start)
        role_stop = text.find(role_end, role_at, role_at + _MAX_ROLE + len(role_end))
        if role_stop < 0 or not _ROLE.fullmatch(text, role_at, role_stop):
            position = role_at
            continue
        content_at = role_stop + len(role_end)
        content_stop = text.find(stop, content_at)
        if content_stop < 0:
            return messages  # an open turn (the generation prompt) or a cut-off text
        role = text[role_at:role_stop]
        role = (roles or {}).get(role, role)
        messages.append(Message(role, text[content_at:content_stop].strip()))
        position = content_stop + len(stop)


def _chatml(text: str) -> list[Message]:
    return _delimited(text, "<|im_start|>", "\n", "<|im_end|>")


def _llama3(text: str) -> list[Message]:
    return _delimited(text, "<|start_header_id|>", "<|end_header_id|>\n\n", "<|eot_id|>")


def _gemma(text: str) -> list[Message]:
    return _delimited(text, "<start_of_turn>", "\n", "<end_of_turn>", _GEMMA_ROLES)


def _deepseek(text: str) -> list[Message]:
    messages: list[Message] = []
    marks = list(_DEEPSEEK_MARKERS.finditer(text))
    if not marks:
        return messages
    system = text[: marks[0].start()].replace(_DEEPSEEK_BOS, "").strip()
    if system:
        messages.append(Message("system", system))
    for index, mark in enumerate(marks):
        stop = marks[index + 1].start() if index + 1 < len(marks) else len(text)
        content = text[mark.end() : stop].replace(_DEEPSEEK_EOS, "").strip()
        role = "user" if mark.group() == "<｜User｜>" else "assistant"
        if content:  # the trailing <｜Assistant｜> is the generation prompt
            messages.append(Message(role, content))
    return messages


def _mistral(text: str) -> list[Message]:
    messages: list[Message] = []
    marks = list(_MISTRAL_MARKERS.finditer(text))
    for index, mark in enumerate(marks):
        stop = marks[index + 1].start() if index + 1 < len(marks) else len(text)
        content = text[mark.end() : stop].replace("</s>", "").replace("<s>", "").strip()
        token = mark.group()
        if token == "[INST]":
            closed = index + 1 < len(marks) and marks[index + 1].group() == "[/INST]"
            if closed and content:
                messages.append(Message("user", content))
        elif token == "[/INST]" and content:
            messages.append(Message("assistant", content))
        elif token == "[SYSTEM_PROMPT]" and content:
            messages.append(Message("system", content))
    return messages


_TEMPLATES: tuple[tuple[str, Callable[[str], list[Message]]], ...] = (
    ("<|im_start|>", _chatml),
    ("<|start_header_id|>", _llama3),
    ("<start_of_turn>", _gemma),
    ("<｜User｜>", _deepseek),
    ("[INST]", _mistral),
)


def messages_from_template(prompt: str) -> tuple[Message, ...]:
    """Chat messages from a ChatML, Llama 3, Gemma, DeepSeek or Mistral templated prompt;
    otherwise the text as one user turn."""
    for marker, split in _TEMPLATES:
        if marker in prompt:
            found = split(prompt)
            if found:
                return tuple(found)
    return (Message("user", prompt),)
