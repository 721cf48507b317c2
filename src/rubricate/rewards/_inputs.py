"""Samples from what RL frameworks hand a reward function (verl rows, TRL columns, OpenRLHF labels)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from rubricate.errors import InputError
from rubricate.formats import messages_from, rubric_from, rubric_items_from_verl
from rubricate.rubric import Rubric
from rubricate.types import Message, Sample

__all__ = [
    "completion_text",
    "group_key",
    "messages_of",
    "parse_rubric",
    "verl_sample",
]

_PROMPT_KEYS = ("prompt", "messages", "question", "query", "raw_prompt")
_ID_KEYS = ("id", "prompt_id", "uid", "index")


def parse_rubric(items: Any, field: str, rubric_id: str) -> Rubric:
    """A rubric from records or their JSON text; ``InputError`` names ``field``."""
    if isinstance(items, str):
        try:
            items = json.loads(items)
        except json.JSONDecodeError as error:
            raise InputError(f"not valid JSON ({error.msg})", field=field) from None
    try:
        return rubric_from(items, field, rubric_id)
    except ValueError as error:
        raise InputError(str(error), field=field) from None


def _text(content: Any, field: str) -> str:
    if isinstance(content, str):
        return content
    if hasattr(content, "tolist"):
        content = content.tolist()
    if isinstance(content, (list, tuple)):  # content parts: keep the text ones
        parts = [
            p.get("text", "") for p in content if isinstance(p, Mapping) and p.get("type") == "text"
        ]
        return "".join(str(p) for p in parts)
    raise InputError(f"expected text, got {type(content).__name__}", field=field)


def messages_of(prompt: Any, field: str) -> tuple[Message, ...]:
    """Chat messages from a string or a list of {role, content} (content may be parts)."""
    if hasattr(prompt, "tolist"):
        prompt = prompt.tolist()
    if isinstance(prompt, (list, tuple)):
        prompt = [
            {**m, "content": _text(m.get("content"), f"{field}[{i}].content")}
            if isinstance(m, Mapping)
            else m
            for i, m in enumerate(prompt)
        ]
    try:
        return messages_from(prompt, field)
    except ValueError as error:
        raise InputError(str(error), field=field) from None


def completion_text(completion: Any, field: str = "completion") -> str:
    """The text of a completion: a string, or the assistant messages of a conversational one."""
    if isinstance(completion, str):
        return completion
    if hasattr(completion, "tolist"):
        completion = completion.tolist()
    if isinstance(completion, (list, tuple)):
        texts = [
            _text(m.get("content"), f"{field}[{i}].content")
            for i, m in enumerate(completion)
            if isinstance(m, Mapping) and m.get("role", "assistant") == "assistant"
        ]
        return "\n".join(texts)
    raise InputError(
        f"expected a string or a list of messages, got {type(completion).__name__}", field=field
    )


def _digest(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def group_key(messages: Sequence[Message], rubric: Rubric) -> str:
    """Completions of one prompt share this key (same conversation, same criteria; ids aside)."""
    criteria = [c.model_dump(mode="json", exclude={"id"}) for c in rubric.criteria]
    return _digest([[[m.role, m.content] for m in messages], criteria, rubric.gate_floor])


def _verl_rubric(ground_truth: Any, extra: Mapping[str, Any], rubric_id: str) -> Rubric:
    row = {"reward_model": extra.get("reward_model"), "extra_info": extra}
    try:
        field, items = rubric_items_from_verl(row)
        field = "extra_info." + field if field.startswith("reward_model") else field
    except KeyError:
        looks_like_rubric = isinstance(ground_truth, (list, tuple, Mapping)) or (
            isinstance(ground_truth, str) and ground_truth.lstrip()[:1] in ("[", "{")
        )
        if ground_truth is None or not looks_like_rubric:
            raise InputError(
                "no rubric: put it in extra_info.reward_model.rubrics, extra_info.rubrics "
                "or ground_truth (a JSON list of criteria)",
                field="extra_info.reward_model.rubrics",
            ) from None
        field, items = "ground_truth", ground_truth
    return parse_rubric(items, field, rubric_id)


def verl_sample(
    data_source: Any,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None,
    *,
    fallback_id: str = "",
) -> Sample:
    """A Sample from verl's reward-function arguments (RuscaRL rows keep prompt and rubric in extra_info)."""
    extra: Mapping[str, Any] = extra_info if isinstance(extra_info, Mapping) else {}
    if not isinstance(solution_str, str):
        raise InputError(
            f"expected a string, got {type(solution_str).__name__}", field="solution_str"
        )
    sample_id = next((str(extra[k]) for k in _ID_KEYS if extra.get(k) is not None), fallback_id)
    prompt_key = next((k for k in _PROMPT_KEYS if extra.get(k) is not None), None)
    if prompt_key is None:
        raise InputError(
            "the judge needs the conversation: add the prompt messages to extra_info['prompt']",
            field="extra_info.prompt",
        )
    messages = messages_of(extra[prompt_key], f"extra_info.{prompt_key}")
    rubric = _verl_rubric(ground_truth, extra, sample_id or "verl")
    if not sample_id:
        sample_id = group_key(messages, rubric)
    metadata = {
        "data_source": data_source
        if isinstance(data_source, (str, int, float))
        else str(data_source)
    }
    return Sample(sample_id, messages, rubric, solution_str, metadata)
