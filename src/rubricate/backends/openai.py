"""A judge behind any OpenAI-compatible ``/v1/chat/completions`` (vLLM, SGLang, llama.cpp, OpenAI).

This module speaks the wire format only: it builds the body, sends it, reads text, usage and
log-probabilities, and classifies failures as ``BackendError(retryable=..., retry_after=...)``.
Retries, call slots, rate budgets, hedging and pools wrap it (``create_openai_judge``).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import math
import os
import re
import ssl
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from rubricate.backends._http import HttpPool, RawResponse
from rubricate.backends._loop import PerLoop
from rubricate.backends._protocol import JudgeBase
from rubricate.backends._retry import http_error
from rubricate.errors import BackendError, ConfigError, MalformedReply
from rubricate.judge import choice_index
from rubricate.types import JudgeReply, JudgeRequest, Message, Usage

__all__ = ["OpenAIJudge", "choice_probabilities"]

logger = logging.getLogger(__name__)

_API_KEY_ENV = ("RUBRICATE_API_KEY", "OPENAI_API_KEY")
_TOP_LOGPROBS = 10
_CONNECTIONS_PER_CLIENT = 4

T = TypeVar("T")
Post = Callable[[bytes], Awaitable["RawResponse | httpx.Response"]]


@dataclass(slots=True)
class _Wire:
    """The running loop's way to send a body: the lean pool, or httpx clients in turn."""

    pool: HttpPool | None
    clients: list[httpx.AsyncClient]
    posts: list[Post]
    turn: Callable[[], int]

    async def aclose(self) -> None:
        if self.pool is not None:
            self.pool.close()
        await asyncio.gather(*(client.aclose() for client in self.clients))


class OpenAIJudge(JudgeBase):
    """A ``Judge`` speaking the OpenAI chat-completions protocol: one attempt per ``complete``.

    Calls go through a lean HTTP/1.1 pool (``_http.HttpPool``, a fraction of httpx's CPU per
    call); httpx takes over when the environment routes the URL through a proxy or a test
    injects a ``transport``. Connections belong to the event loop that opened them; a new
    loop gets new ones. Close with ``aclose`` (or ``async with``); the judge stays usable.

    Args:
        base_url: server root including ``/v1``, e.g. ``http://127.0.0.1:8000/v1``.
        model: model name sent with every request.
        api_key: bearer token; default ``$RUBRICATE_API_KEY``, then ``$OPENAI_API_KEY``.
            It is never logged and never enters the fingerprint.
        temperature, seed: sampling settings sent when a request leaves its own ``None``.
        extra_body: extra JSON fields merged into every request body; they win over the
            judge's own settings, and a request's sampling settings win over them.
        timeout: seconds allowed for one attempt, connecting included.
        connections: connections the httpx path keeps per loop (the calls expected in flight;
            the lean pool opens what the calls in flight need).
        transport: an httpx transport, for tests.
    """

    backend_name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: float = 60.0,
        connections: int = 16,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not base_url:
            raise ConfigError("base_url is required")
        if not model:
            raise ConfigError("model is required")
        if timeout <= 0:
            raise ConfigError(f"timeout must be positive, got {timeout}")
        if connections < 1:
            raise ConfigError(f"connections must be >= 1, got {connections}")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.temperature = temperature
        self.seed = seed
        self.timeout = timeout
        self.connections = connections
        self.extra_body: dict[str, Any] = dict(extra_body or {})
        self.fingerprint = _fingerprint(model, temperature, seed, self.extra_body)
        key = api_key if api_key is not None else _key_from_env()
        self._headers = {"content-type": "application/json"}
        if key:
            self._headers["authorization"] = f"Bearer {key}"
        self._transport = transport
        self.uses_httpx = transport is not None or _proxied(self.base_url)
        self._wire: PerLoop[_Wire] = PerLoop(self._connect)
        # Replies that reported no usage: their tokens are unknown, not zero.
        self.replies_without_usage = 0

    def __repr__(self) -> str:
        return f"OpenAIJudge(base_url={self.base_url!r}, model={self.model!r})"

    async def aclose(self) -> None:
        """Close the connections (the judge stays usable and reconnects when called again)."""
        wire, here = self._wire.take()
        if wire is not None and here:
            await wire.aclose()

    def _connect(self) -> _Wire:
        if not self.uses_httpx:
            pool = HttpPool(
                self.base_url,
                headers=self._headers,
                ssl_context=_ssl_context() if self.base_url.startswith("https:") else None,
            )
            return _Wire(pool, [], [functools.partial(pool.post, "/chat/completions")], _only)
        # httpcore scans every connection of its pool on each request, so one pool of N
        # connections costs O(N) per call; small pools keep it flat (2x the throughput at 64).
        per_client = min(self.connections, _CONNECTIONS_PER_CLIENT)
        limits = httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client)
        clients = [
            httpx.AsyncClient(
                base_url=self.base_url,
                headers=self._headers,
                timeout=httpx.Timeout(self.timeout),
                limits=limits,
                transport=self._transport,
                verify=_ssl_context(),
            )
            for _ in range(math.ceil(self.connections / per_client))
        ]
        in_flight = [0] * len(clients)
        posts = [_httpx_post(client, in_flight, i) for i, client in enumerate(clients)]
        return _Wire(None, clients, posts, lambda: in_flight.index(min(in_flight)))

    def body(self, request: JudgeRequest) -> dict[str, Any]:
        """The JSON body of ``request``.

        Sampling settings: the request's when set (they enter its cache key, so they must
        reach the server), else ``extra_body``'s, else the judge's own. A ``reply_schema``
        goes as ``response_format`` (structured outputs: OpenAI, vLLM, SGLang, llama.cpp server).
        """
        body: dict[str, Any] = {
            "model": self.model,
            "messages": _messages(request.messages),
            "max_tokens": request.max_tokens,
            "temperature": self.temperature,
        }
        if self.seed is not None:
            body["seed"] = self.seed
        if request.want_probabilities:
            body["logprobs"] = True
            body["top_logprobs"] = _TOP_LOGPROBS
        body.update(self.extra_body)
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.seed is not None:
            body["seed"] = request.seed
        if request.reply_schema is not None:
            # After extra_body: the schema belongs to this request and enters its cache key.
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": "judge_reply",
                    "strict": True,
                    "schema": json.loads(request.reply_schema),
                },
            }
        return body

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        """One attempt; with ``want_probabilities``, also read the choices' token probabilities.

        Raises:
            BackendError: the call failed; ``retryable`` and ``retry_after`` say whether and
                when trying again can help.
        """
        raw = json.dumps(self.body(request), ensure_ascii=False, separators=(",", ":"))
        wire = self._wire.get()
        start = time.perf_counter()
        try:
            # The bound covers the whole attempt, connecting included, so a server that
            # trickles bytes cannot hold a call forever.
            response = await _within(wire.posts[wire.turn()](raw.encode("utf-8")), self.timeout)
        except (asyncio.TimeoutError, httpx.TimeoutException) as exc:
            raise BackendError(
                f"judge call timed out after {self.timeout:g}s", retryable=True
            ) from exc
        except (httpx.TransportError, OSError) as exc:
            raise BackendError(
                f"judge connection failed: {type(exc).__name__}: {exc}", retryable=True
            ) from exc
        latency = time.perf_counter() - start
        try:
            payload = _parse_response(response)
        except BackendError as error:
            if request.reply_schema is not None and _refuses_schema(error):
                raise ConfigError(
                    f"the judge server cannot constrain replies to a JSON schema ({error}); "
                    "run without --constrain (judge.constrain = 'off')"
                ) from error
            raise
        first = payload["choices"][0]
        text = first["message"].get("content") or ""
        usage = _usage(payload.get("usage"))
        if not usage.known:
            self.replies_without_usage += 1
        probabilities = None
        if request.want_probabilities and request.choices:
            content = _logprob_entries(first.get("logprobs"))
            probabilities = choice_probabilities(content, request.answer_prefix, request.choices)
            if probabilities is None:
                logger.debug("no usable logprobs for choices %s", request.choices)
        return JudgeReply(text, usage, latency, probabilities)


async def _within(awaitable: Awaitable[T], seconds: float) -> T:
    """``awaitable`` bounded by ``seconds`` (raises ``TimeoutError``)."""
    if sys.version_info >= (3, 11):
        # Not wait_for: on 3.11 it returns the result, and swallows the cancellation, when
        # the caller is cancelled just as the call completes; Ctrl-C would then be lost.
        async with asyncio.timeout(seconds):
            return await awaitable
    return await asyncio.wait_for(awaitable, seconds)


def _only() -> int:
    return 0


def _httpx_post(client: httpx.AsyncClient, in_flight: list[int], index: int) -> Post:
    """A sender on ``client`` that counts its calls in flight, so the next goes to the least busy."""

    async def post(raw: bytes) -> httpx.Response:
        in_flight[index] += 1
        try:
            return await client.post("/chat/completions", content=raw)
        finally:
            in_flight[index] -= 1

    return post


def _proxied(base_url: str) -> bool:
    """Whether the environment (``HTTP(S)_PROXY``, ``ALL_PROXY``, ``NO_PROXY``) proxies the URL."""
    parts = urlsplit(base_url)
    proxies = urllib.request.getproxies_environment()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    # Public, but missing from typeshed.
    bypass: Callable[[str, dict[str, str]], bool] = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    return not bypass(parts.netloc, proxies)


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    # Shared: building a context loads the CA bundle, ~30 ms per client otherwise.
    return httpx.create_ssl_context()


def _key_from_env() -> str | None:
    for name in _API_KEY_ENV:
        value = os.environ.get(name)
        if value:
            return value
    return None


def _fingerprint(
    model: str, temperature: float, seed: int | None, extra_body: Mapping[str, Any]
) -> str:
    # The URL stays out: the same model behind two servers answers alike and shares a cache.
    canonical = json.dumps(
        {
            "backend": OpenAIJudge.backend_name,
            "model": model,
            "temperature": temperature,
            "seed": seed,
            "extra_body": extra_body,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]
    return f"{OpenAIJudge.backend_name}:{model}:{digest}"


def _messages(messages: Sequence[Message]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def _malformed(what: str, body: bytes, status: int) -> MalformedReply:
    sample = body[:200].decode("utf-8", "replace")
    return MalformedReply(f"malformed reply: {what}: {sample!r}", retryable=True, status=status)


def _refuses_schema(error: BackendError) -> bool:
    """A 4xx that names structured outputs: the server does not take ``response_format``
    (or not this schema), so every constrained call would fail alike."""
    text = str(error).lower()
    return (
        error.status is not None
        and 400 <= error.status < 500
        and error.status not in (408, 409, 425, 429)
        and any(word in text for word in ("response_format", "json_schema", "schema", "grammar"))
    )


def _parse_response(reply: RawResponse | httpx.Response) -> dict[str, Any]:
    """The JSON of a 2xx chat completion, checked for the shape this module reads.

    Raises:
        MalformedReply: a 2xx body that is not JSON, has no ``choices[0].message`` with a
            string (or null) ``content``, or whose ``usage`` cannot be read.
        BackendError: any other status (see ``http_error``).
    """
    if isinstance(reply, RawResponse):
        status, body = reply.status, reply.body
    else:
        status, body = reply.status_code, reply.content
    if 200 <= status < 300:
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise _malformed("not JSON", body, status) from None
        choices = payload.get("choices") if isinstance(payload, dict) else None
        first = choices[0] if isinstance(choices, list) and choices else None
        message = first.get("message") if isinstance(first, dict) else None
        if not isinstance(message, dict) or not isinstance(
            message.get("content", ""), (str, type(None))
        ):
            raise _malformed("no choices[0].message.content", body, status)
        try:
            _usage(payload.get("usage"))
        except ValueError as error:
            raise _malformed(str(error), body, status) from None
        return dict(payload)
    if isinstance(reply, RawResponse):  # an error: worth httpx's header handling
        reply = httpx.Response(status, headers=reply.headers, content=body)
    raise http_error(reply, who="judge server")


# Counts beyond this are not token counts (SQLite keeps 64-bit integers).
_MAX_TOKENS = 2**53


def _count(raw: Any, name: str) -> int:
    """A token count: a non-negative integer (or an integral float such as ``12.0``)."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise ValueError(f"usage.{name} is not a number: {raw!r}"[:120])
    if isinstance(raw, float) and not (math.isfinite(raw) and raw.is_integer()):
        raise ValueError(f"usage.{name} is not a whole finite number: {raw!r}")
    if not 0 <= raw <= _MAX_TOKENS:
        raise ValueError(f"usage.{name} is out of range: {raw!r}"[:120])
    return int(raw)


def _usage(raw: Any) -> Usage:
    """Token counts of a reply; ``Usage(known=False)`` when the server reported none.

    Raises:
        ValueError: usage present but unreadable (not an object, or a count that is not
            a non-negative whole number); the caller reports it as a malformed reply.
    """
    if raw is None:
        return Usage(known=False)
    if not isinstance(raw, dict):
        raise ValueError(f"usage is not an object: {raw!r}"[:120])
    prompt = raw.get("prompt_tokens")
    completion = raw.get("completion_tokens")
    if prompt is None and completion is None:
        return Usage(known=False)
    details = raw.get("prompt_tokens_details")
    if details is not None and not isinstance(details, dict):
        raise ValueError(f"usage.prompt_tokens_details is not an object: {details!r}"[:120])
    cached = details.get("cached_tokens") if details else None
    return Usage(
        prompt_tokens=0 if prompt is None else _count(prompt, "prompt_tokens"),
        cached_prompt_tokens=0 if cached is None else _count(cached, "cached_tokens"),
        completion_tokens=0 if completion is None else _count(completion, "completion_tokens"),
    )


# Servers round: a certain token may come back as a logprob a hair above 0.
_LOGPROB_SLACK = 1e-3


def _logprob_entries(raw: Any) -> list[Mapping[str, Any]]:
    """``choices[0].logprobs.content`` checked for the fields ``choice_probabilities`` reads.

    Missing logprobs are an empty list (no probabilities, the verdict still stands).

    Raises:
        MalformedReply: logprobs present but of the wrong shape (entries that are not
            objects, tokens that are not strings, log-probabilities that are not finite
            numbers at most 0).
    """
    if raw is None:
        return []
    content = raw.get("content") if isinstance(raw, dict) else raw
    if content is None:
        return []
    if not isinstance(raw, dict) or not isinstance(content, list):
        raise MalformedReply(f"malformed reply: logprobs is not {{content: [...]}}: {raw!r}"[:240])
    for entry in content:
        alternatives = entry.get("top_logprobs") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or not isinstance(alternatives, (list, type(None))):
            raise MalformedReply(f"malformed reply: logprobs entry {entry!r}"[:240])
        for item in (entry, *(alternatives or ())):
            token, logprob = (
                (item.get("token"), item.get("logprob")) if isinstance(item, dict) else (None, None)
            )
            if not isinstance(token, str) or not _is_logprob(logprob):
                raise MalformedReply(f"malformed reply: logprobs token {item!r}"[:240])
    return content


def _is_logprob(value: Any) -> bool:
    """``None`` or a finite log-probability (at most 0, give or take rounding)."""
    if value is None:
        return True
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) and value <= _LOGPROB_SLACK


def _prefix_pattern(prefix: str) -> re.Pattern[str]:
    # Tolerate whitespace differences: models write {"verdict":"met"} as often as {"verdict": "met"}.
    chars = [re.escape(c) for c in prefix if not c.isspace()]
    return re.compile(r"\s*".join(chars))


def _token_at(tokens: Sequence[str], position: int) -> tuple[int, int] | None:
    """Index and start offset of the token covering character ``position``."""
    start = 0
    for index, token in enumerate(tokens):
        if start <= position < start + len(token):
            return index, start
        start += len(token)
    return None


def choice_probabilities(
    content: Sequence[Mapping[str, Any]],
    answer_prefix: str,
    choices: Sequence[str],
) -> dict[str, float] | None:
    """P(choice) read from chat-completion ``logprobs.content`` entries.

    Finds the token where the answer starts (right after ``answer_prefix``, whitespace
    tolerant), and gives each choice the summed probability of the top alternatives at that
    position that are a non-empty prefix of it, or all of it followed by punctuation as in
    ``met"`` (case-sensitive, leading spaces ignored). A token naming several choices is
    ambiguous and counted for none. The result is normalised over ``choices``; ``None`` when
    the position or any matching mass is missing.
    """
    if not content or not choices:
        return None
    tokens = [str(entry.get("token") or "") for entry in content]
    text = "".join(tokens)
    if answer_prefix:
        match = _prefix_pattern(answer_prefix).search(text)
        if match is None:
            return None
        position = match.end()
    else:
        position = 0
    while position < len(text) and text[position] == " ":
        position += 1
    found = _token_at(tokens, position)
    if found is None:
        return None
    index, start = found
    head = text[start:position]  # part of the token that still belongs to the prefix
    entry = content[index]
    alternatives = entry.get("top_logprobs") or [entry]
    mass = dict.fromkeys(choices, 0.0)
    for alternative in alternatives:
        token = str(alternative.get("token") or "")
        if not token.startswith(head):
            continue
        named = choice_index(token[len(head) :], choices)
        if named is None:
            continue
        logprob = alternative.get("logprob")
        if isinstance(logprob, (int, float)) and not math.isnan(logprob):
            mass[choices[named]] += math.exp(logprob)
    total = sum(mass.values())
    if total <= 0.0:
        return None
    return {choice: value / total for choice, value in mass.items()}
