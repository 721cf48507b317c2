"""NeMo Gym's resources-server contract: ``POST /verify`` and ``POST /aggregate_metrics``.

Shapes read from NeMo Gym's source (NVIDIA-NeMo/Gym, ``nemo_gym/base_resources_server.py``,
``nemo_gym/config_types.py``, ``nemo_gym/openai_utils.py``, ``nemo_gym/reward_profile.py``,
``nemo_gym/token_id_capture/delivery.py``):

- verify request: ``responses_create_params`` (Responses API: ``input`` a string or a list of
  ``{role, content, type: "message"}`` items, content a string or ``input_text`` parts;
  ``instructions``), ``response`` (``output`` items; assistant text in ``type: "message"`` items'
  ``output_text`` parts), and the task's own fields beside them;
- verify response: the request echoed, plus ``reward`` (float); multi-objective servers add
  ``reward_components`` ({name: float}) and the same values as top-level numeric fields;
  ``mask_sample: true`` tells the trainer to leave the rollout out of the loss;
- aggregate request ``{"verify_responses": [...]}`` (each with ``_ng_task_index``,
  ``_ng_rollout_index``); reply ``{group_level_metrics, agent_metrics, key_metrics}`` with
  ``mean/``, ``max/``, ``min/``, ``median/``, ``std/`` (sample std, 0 for one value) of every
  numeric top-level field (booleans as 0/1).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from rubricate.errors import InputError
from rubricate.rewards import RewardOutcome, Shaping, messages_of, parse_rubric
from rubricate.rubric import Rubric
from rubricate.server._requests import RubricBook, ServerError
from rubricate.types import Sample

__all__ = [
    "AggregateMetricsRequest",
    "VerifyRequest",
    "aggregate_metrics",
    "verify_reply",
    "verify_sample",
]

TASK_INDEX = "_ng_task_index"
ROLLOUT_INDEX = "_ng_rollout_index"
_ROLES = {"user": "user", "system": "system", "developer": "system", "assistant": "assistant"}
_TEXT_PARTS = ("input_text", "output_text", "text")
_STATS = ("mean", "max", "min", "median", "std")


class ResponsesCreateParams(BaseModel):
    """The part of NeMo Gym's ``responses_create_params`` that grading reads."""

    model_config = ConfigDict(extra="allow")

    input: str | list[dict[str, Any]]
    instructions: str | None = None


class GymResponse(BaseModel):
    """The part of NeMo Gym's ``response`` (a Responses API response) that grading reads."""

    model_config = ConfigDict(extra="allow")

    output: list[dict[str, Any]]


class VerifyRequest(BaseModel):
    """NeMo Gym's verify request; the task's fields (the rubric among them) are extras."""

    model_config = ConfigDict(extra="allow")

    responses_create_params: ResponsesCreateParams
    response: GymResponse


class AggregateMetricsRequest(BaseModel):
    """NeMo Gym's ``/aggregate_metrics`` request."""

    verify_responses: list[dict[str, Any]]


def _content_text(content: Any, field: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for index, part in enumerate(content):
            if not isinstance(part, Mapping):
                raise ServerError.invalid_field(
                    f"{field}[{index}]", "expected a content part object"
                )
            if part.get("type") in _TEXT_PARTS:
                texts.append(str(part.get("text", "")))
            elif part.get("type") == "refusal":
                texts.append(str(part.get("refusal", "")))
        return "".join(texts)
    raise ServerError.invalid_field(
        field, f"expected text or a list of content parts, got {type(content).__name__}"
    )


def _conversation(params: ResponsesCreateParams) -> list[dict[str, str]]:
    base = "responses_create_params"
    turns = []
    if params.instructions:
        turns.append({"role": "system", "content": params.instructions})
    if isinstance(params.input, str):
        return [*turns, {"role": "user", "content": params.input}]
    for index, item in enumerate(params.input):
        field = f"{base}.input[{index}]"
        if item.get("type", "message") != "message":
            continue  # tool calls and their outputs: not conversation text
        role = _ROLES.get(str(item.get("role")))
        if role is None:
            raise ServerError.invalid_field(f"{field}.role", f"expected one of {', '.join(_ROLES)}")
        turns.append(
            {"role": role, "content": _content_text(item.get("content"), f"{field}.content")}
        )
    if not turns:
        raise ServerError.invalid_field(f"{base}.input", "holds no message")
    return turns


def _response_text(response: GymResponse) -> str:
    texts = []
    for index, item in enumerate(response.output):
        if item.get("type") == "message" and item.get("role", "assistant") == "assistant":
            texts.append(
                _content_text(item.get("content", []), f"response.output[{index}].content")
            )
    return "\n".join(t for t in texts if t)


def _rubric(extras: Mapping[str, Any], book: RubricBook, rubric_id: str) -> Rubric:
    for key in ("rubric", "rubrics", "criteria"):
        if extras.get(key) is not None:
            return _parsed(extras[key], key, rubric_id)
    reward_model = extras.get("reward_model")
    if isinstance(reward_model, Mapping) and reward_model.get("rubrics") is not None:
        return _parsed(reward_model["rubrics"], "reward_model.rubrics", rubric_id)
    named = extras.get("rubric_id")
    if isinstance(named, str):
        if named in book.entries:
            return book.entries[named][0]
        raise ServerError.invalid_field("rubric_id", f"unknown rubric id ({len(book)} loaded)")
    raise ServerError.invalid_field(
        "rubric", "each task needs its rubric: a 'rubric' field or a 'rubric_id'"
    )


def _parsed(items: Any, field: str, rubric_id: str) -> Rubric:
    try:
        return parse_rubric(items, field, rubric_id)
    except InputError as error:
        raise ServerError.invalid_field(error.field or field, error.reason) from None


def verify_sample(body: VerifyRequest, book: RubricBook) -> Sample:
    """The sample a verify request describes (``ServerError`` 422 naming the field if not)."""
    extras = body.model_extra or {}
    task = extras.get(TASK_INDEX)
    rollout = extras.get(ROLLOUT_INDEX)
    sample_id = f"task{task}-rollout{rollout}" if task is not None else "verify"
    try:
        messages = messages_of(
            _conversation(body.responses_create_params), "responses_create_params.input"
        )
    except InputError as error:
        raise ServerError.invalid_field(
            error.field or "responses_create_params.input", error.reason
        ) from None
    rubric = _rubric(extras, book, str(task) if task is not None else "verify")
    return Sample(sample_id, messages, rubric, _response_text(body.response), {})


def verify_reply(
    body: VerifyRequest, outcome: RewardOutcome, shaping: Shaping, axis_fill: float
) -> dict[str, Any]:
    """The verify response: the request echoed, ``reward``, per-axis ``reward_components``
    (also as top-level ``axis_NAME``), ``mask_sample`` for an ungradable sample and counts."""
    reply = body.model_dump(mode="json")
    components = {}
    for axis in shaping.axes or ():
        value = outcome.result.axes.get(axis)
        components[axis] = axis_fill if value is None else float(value)
    reply.update(
        reward=shaping.fallback if outcome.reward is None else float(outcome.reward),
        reward_components=components,
        mask_sample=outcome.ungradable,
        n_criteria=len(outcome.result.verdicts),
        n_errors=outcome.n_errors,
    )
    reply.update({f"axis_{axis}": value for axis, value in components.items()})
    return reply


def _numbers(record: Mapping[str, Any]) -> dict[str, float]:
    numbers = {}
    for key, value in record.items():
        if key in (TASK_INDEX, ROLLOUT_INDEX):
            continue
        # booleans count as 0/1, as NeMo Gym's profiler counts them
        if isinstance(value, bool) or (isinstance(value, (int, float)) and math.isfinite(value)):
            numbers[key] = float(value)
    return numbers


def _stats(records: Sequence[Mapping[str, float]]) -> dict[str, float]:
    columns: dict[str, list[float]] = {}
    for record in records:
        for key, value in record.items():
            columns.setdefault(key, []).append(value)
    stats: dict[str, float] = {}
    for stat in _STATS:
        for key, values in columns.items():
            if stat == "mean":
                value = statistics.fmean(values)
            elif stat == "max":
                value = max(values)
            elif stat == "min":
                value = min(values)
            elif stat == "median":
                value = statistics.median(values)
            else:
                value = statistics.stdev(values) if len(values) > 1 else 0.0
            stats[f"{stat}/{key}"] = value
    return stats


def aggregate_metrics(verify_responses: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """NeMo Gym's aggregate metrics over verify responses, per task and overall."""
    if not verify_responses:  # as NeMo Gym answers it
        return {"group_level_metrics": [], "agent_metrics": {}, "key_metrics": {}}
    numbers = [_numbers(r) for r in verify_responses]
    tasks: dict[int, list[dict[str, float]]] = {}
    for response, record in zip(verify_responses, numbers, strict=True):
        task = response.get(TASK_INDEX, 0)
        if not isinstance(task, int) or isinstance(task, bool):
            raise ServerError.invalid_field(
                f"verify_responses.{TASK_INDEX}", f"expected an integer, got {json.dumps(task)}"
            )
        tasks.setdefault(task, []).append(record)
    groups = [{TASK_INDEX: task, **_stats(records)} for task, records in sorted(tasks.items())]
    overall = _stats(numbers)
    key_metrics = {k: v for k, v in overall.items() if k.startswith("mean/")}
    return {"group_level_metrics": groups, "agent_metrics": overall, "key_metrics": key_metrics}
