"""HTTP bodies -> samples: size limit, JSON, validation errors that name the field, rubric lookup."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.requests import ClientDisconnect, Request

from rubricate.errors import InputError
from rubricate.formats import JsonRejected, iter_jsonl, loads_strict
from rubricate.rewards import Normalize, group_key, messages_of, parse_rubric
from rubricate.rubric import Rubric
from rubricate.server._templates import messages_from_template, strip_end_markers
from rubricate.types import Message, Sample

__all__ = [
    "GetRewardRequest",
    "RubricBook",
    "SamplesRequest",
    "ServerError",
    "decode_json",
    "native_samples",
    "openrlhf_samples",
    "read_body",
    "read_json",
    "request_messages",
    "request_rubric",
    "response_after_prompt",
    "validate",
]

T = TypeVar("T")

LABELS_KEPT = 2048  # label texts whose parsed rubric is kept (a step of 8,192 rollouts: 1,024)


class ServerError(Exception):
    """An HTTP error reply: status, stable code, message and (for bad input) the field."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})

    @classmethod
    def invalid_field(cls, field: str, message: object) -> ServerError:
        """The 422 for bad input, naming the field."""
        return cls(422, "invalid_input", f"field '{field}': {message}", field=field)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than ``limit`` bytes whatever the framing (413).

    A client that hangs up mid-body gets ``ServerError(499)``: nobody is left to answer.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ServerError(
            413, "payload_too_large", f"body of {declared} bytes exceeds the limit of {limit}"
        )
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ServerError(
                    413, "payload_too_large", f"body exceeds the limit of {limit} bytes"
                )
            chunks.append(chunk)
    except ClientDisconnect:
        raise ServerError(499, "client_closed", "the client closed the connection") from None
    return b"".join(chunks)


def decode_json(body: bytes) -> Any:
    """Strict JSON of a body (finite numbers, bounded nesting, UTF-8, no lone surrogates), or 400."""
    try:
        return loads_strict(body)
    except JsonRejected as error:
        raise ServerError(400, "invalid_json", f"body is not valid JSON: {error}") from None


async def read_json(request: Request, limit: int) -> Any:
    """The JSON body (see ``read_body`` and ``decode_json``)."""
    return decode_json(await read_body(request, limit))


def _location(loc: Sequence[Any]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def validate(model: type[BaseModel], data: Any) -> Any:
    """``model`` from ``data``, or a 422 naming the first bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = _location([p for p in first["loc"] if p not in ("function-after",)])
        raise ServerError.invalid_field(field, first["msg"]) from None


class GetRewardRequest(BaseModel):
    """OpenRLHF's remote reward request."""

    model_config = ConfigDict(extra="ignore")

    query: list[str] = Field(min_length=1)
    prompts: list[str] | None = None
    labels: list[Any] | None = None

    @model_validator(mode="after")
    def _same_lengths(self) -> GetRewardRequest:
        for name in ("prompts", "labels"):
            values = getattr(self, name)
            if values is not None and len(values) != len(self.query):
                raise ValueError(f"'{name}' has {len(values)} items for {len(self.query)} queries")
        return self


class SampleIn(BaseModel):
    """One sample of the native API."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    prompt: str | list[dict[str, Any]]
    response: str
    rubric: list[Any] | dict[str, Any] | str | None = None
    rubric_id: str | None = None
    group: str | None = None


class SamplesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    samples: list[SampleIn] = Field(min_length=1)
    normalize: Normalize = "none"  # /v1/reward: within the request's groups


class RubricBook:
    """Rubrics loaded at start-up, by id (JSONL lines or a JSON list / mapping)."""

    def __init__(
        self, entries: Mapping[str, tuple[Rubric, tuple[Message, ...] | None]], source: str = ""
    ) -> None:
        self.entries = dict(entries)
        self.source = source
        # OpenRLHF sends a prompt's rubric as the same label text with each of its rollouts
        # (8-16 a group): parse it once. Rubrics are frozen, so the samples may share one.
        # lru_cache is thread-safe (large bodies are parsed in worker threads) and does not
        # keep failures: a bad label is refused each time it comes.
        self.parsed_label = functools.lru_cache(maxsize=LABELS_KEPT)(
            functools.partial(_parse_label, book=self)
        )

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def load(cls, path: str | Path) -> RubricBook:
        """Read ``path``; each record has an id (``id``, ``rubric_id`` or ``prompt_id``), criteria
        (``rubric``, ``rubrics`` or ``criteria``) and optionally its ``prompt`` messages."""
        name = str(path)
        if not Path(path).exists():
            raise InputError("file not found", file=name)
        records: list[tuple[int, Any]]
        if name.endswith(".json"):
            try:
                data = loads_strict(Path(path).read_bytes())
            except JsonRejected as error:
                raise InputError(str(error), file=name) from None
            except OSError as error:
                raise InputError(f"cannot read: {error.strerror}", file=name) from None
            if isinstance(data, Mapping):
                data = [{"id": key, "rubric": value} for key, value in data.items()]
            if not isinstance(data, list):
                raise InputError("expected a JSON list or object of rubrics", file=name)
            records = list(enumerate(data, start=1))
        else:
            records = list(iter_jsonl(path))
        entries: dict[str, tuple[Rubric, tuple[Message, ...] | None]] = {}
        first_line: dict[str, int] = {}
        for line, record in records:
            if isinstance(record, InputError):
                raise record
            if not isinstance(record, Mapping):
                raise InputError("expected an object", file=name, line=line)
            id_key = next((k for k in ("id", "rubric_id", "prompt_id") if record.get(k)), None)
            items_key = next((k for k in ("rubric", "rubrics", "criteria") if k in record), None)
            if id_key is None or items_key is None:
                raise InputError("needs an id and a rubric", file=name, line=line)
            key = record[id_key]
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise InputError(
                    f"must be a string, got {type(key).__name__}",
                    file=name,
                    line=line,
                    field=id_key,
                )
            key = str(key)
            if key in first_line:
                raise InputError(
                    f"rubric id '{key}' appears twice (lines {first_line[key]} and {line})",
                    file=name,
                    line=line,
                    field=id_key,
                )
            first_line[key] = line
            try:
                rubric = parse_rubric(record[items_key], items_key, key)
                prompt = messages_of(record["prompt"], "prompt") if record.get("prompt") else None
            except InputError as error:
                raise InputError(error.reason, file=name, line=line, field=error.field) from None
            entries[key] = (rubric, prompt)
        return cls(entries, name)


def response_after_prompt(query: str, prompt: str | None) -> str:
    """The policy's response: the query after its prompt, without trailing end-of-turn markers."""
    text = query
    if prompt:
        at = query.find(prompt)
        if at >= 0:
            text = query[at + len(prompt) :]
        else:  # the tokenizer round trip changed the prompt a little: cut the common prefix
            common = 0
            for a, b in zip(query, prompt, strict=False):
                if a != b:
                    break
                common += 1
            text = query[common:]
    return strip_end_markers(text)


def _label_rubric(
    label: Any, index: int, book: RubricBook
) -> tuple[Rubric, tuple[Message, ...] | None]:
    if isinstance(label, str):
        if label in book.entries:
            return book.entries[label]
        parsed: tuple[Rubric, tuple[Message, ...] | None] = book.parsed_label(label, index)
        return parsed
    return _parse_label(label, index, book)


def _parse_label(
    label: Any, index: int, book: RubricBook
) -> tuple[Rubric, tuple[Message, ...] | None]:
    field = f"labels[{index}]"
    value = label
    if isinstance(label, str):
        try:
            value = loads_strict(label)
        except JsonRejected as error:
            known = (
                f"{len(book)} loaded from {book.source}"
                if book.source
                else "none loaded: start with --rubrics FILE"
            )
            raise ServerError.invalid_field(
                field, f"not a JSON rubric ({error}) and not a known rubric id ({known})"
            ) from None
    prompt = None
    if isinstance(value, Mapping):
        raw_prompt = value.get("prompt", value.get("messages"))
        if raw_prompt is not None:
            prompt = _as_input(lambda: messages_of(raw_prompt, f"{field}.prompt"))
        if isinstance(value.get("rubric_id"), str) and value["rubric_id"] in book.entries:
            rubric, stored = book.entries[value["rubric_id"]]
            return rubric, prompt or stored
        items = next((value[k] for k in ("rubric", "rubrics", "criteria") if k in value), value)
        rubric_id = str(value.get("id") or f"label-{index}")
    else:
        items, rubric_id = value, f"label-{index}"
    return _as_input(lambda: parse_rubric(items, field, rubric_id)), prompt


def _strict_json_text(value: Any, field: str) -> Any:
    """A rubric given as JSON text, decoded strictly here (NaN, deep nesting: 422, not 500)."""
    if not isinstance(value, str):
        return value
    try:
        return loads_strict(value)
    except JsonRejected as error:
        raise ServerError.invalid_field(field, error) from None


def _as_input(make: Callable[[], T]) -> T:
    try:
        return make()
    except InputError as error:
        raise ServerError(
            422, "invalid_input", f"field '{error.field}': {error.reason}", field=error.field
        ) from None


def openrlhf_samples(request: GetRewardRequest, book: RubricBook) -> list[Sample]:
    """Samples of a ``/get_reward`` request: response = query after prompt, rubric from the label."""
    if request.labels is None:
        raise ServerError.invalid_field("labels", "each query needs a label carrying its rubric")
    samples = []
    for index, query in enumerate(request.query):
        prompt = request.prompts[index] if request.prompts is not None else None
        rubric, messages = _label_rubric(request.labels[index], index, book)
        if messages is None:
            messages = (
                messages_from_template(prompt)
                if prompt
                else (Message("user", "(no prompt given)"),)
            )
        response = response_after_prompt(query, prompt)
        samples.append(Sample(f"q{index}", messages, rubric, response, {}))
    return samples


def request_messages(prompt: str | list[dict[str, Any]], field: str) -> tuple[Message, ...]:
    """The chat messages of a request's ``prompt`` (a string or ``{role, content}`` list), or 422."""
    return _as_input(partial(messages_of, prompt, field))


def request_rubric(
    rubric: list[Any] | dict[str, Any] | str | None,
    rubric_id: str | None,
    base: str,
    book: RubricBook,
    name: str,
) -> Rubric | None:
    """The rubric an item of ``base`` gives inline or names by ``rubric_id`` (``None`` for
    neither); a bad rubric or an unknown id is a 422 naming the field."""
    if rubric is not None:
        items = _strict_json_text(rubric, f"{base}.rubric")
        return _as_input(partial(parse_rubric, items, f"{base}.rubric", name))
    if rubric_id is None:
        return None
    if rubric_id not in book.entries:
        field = f"{base}.rubric_id"
        raise ServerError.invalid_field(field, "unknown rubric id")
    return book.entries[rubric_id][0]


def native_samples(request: SamplesRequest, book: RubricBook) -> tuple[list[Sample], list[str]]:
    """Samples and group keys of a ``/v1/grade`` or ``/v1/reward`` request."""
    samples, groups = [], []
    for index, item in enumerate(request.samples):
        base = f"samples[{index}]"
        messages = request_messages(item.prompt, f"{base}.prompt")
        rubric = request_rubric(item.rubric, item.rubric_id, base, book, item.id or base)
        if rubric is None:
            raise ServerError.invalid_field(f"{base}.rubric", "give a rubric or a rubric_id")
        key = group_key(messages, rubric)
        samples.append(Sample(item.id or f"s{index}", messages, rubric, item.response, {}))
        groups.append(item.group or key)
    return samples, groups
