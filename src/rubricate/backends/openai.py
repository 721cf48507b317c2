"""A judge behind any OpenAI-compatible ``/v1/chat/completions`` (vLLM, SGLang, llama.cpp, OpenAI)."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import math
import os
import random
import re
import ssl
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from rubricate.backends._http import HttpPool, RawResponse
from rubricate.backends._limits import RateLimiter, Slots, estimate_tokens
from rubricate.backends._retry import SleepFn, http_error, with_retries
from rubricate.errors import BackendError, ConfigError
from rubricate.types import JudgeReply, JudgeRequest, Message, Usage

__all__ = ["OpenAIJudge", "choice_probabilities"]

logger = logging.getLogger(__name__)

_API_KEY_ENV = ("RUBRICATE_API_KEY", "OPENAI_API_KEY")
_TOP_LOGPROBS = 10
_CONNECTIONS_PER_CLIENT = 4
# Copies of one stalled call: enough that a stalled backup is backed up in turn, few enough
# that a server where everything stalls sees at most three copies of each call.
_MAX_BACKUPS = 2


T = TypeVar("T")
Post = Callable[[bytes], Awaitable["RawResponse | httpx.Response"]]


class OpenAIJudge:
    """A ``Judge`` speaking the OpenAI chat-completions protocol.

    At most ``concurrency`` calls are in flight, each on a keep-alive connection. Calls go
    through a lean HTTP/1.1 pool (``_http.HttpPool``, a fraction of httpx's CPU per call);
    httpx takes over when the environment routes the URL through a proxy or a test injects a
    ``transport``. An instance belongs to the event loop that first uses it; close it with
    ``aclose`` (or ``async with``).

    Args:
        base_url: server root including ``/v1``, e.g. ``http://127.0.0.1:8000/v1``.
        model: model name sent with every request.
        api_key: bearer token; default ``$RUBRICATE_API_KEY``, then ``$OPENAI_API_KEY``.
            It is never logged and never enters the fingerprint.
        temperature: sampling temperature of every judge call (``JudgeRequest.temperature``
            is ignored so that the fingerprint describes what was really sent).
        timeout: seconds allowed for one attempt, connection included.
        max_retries: retries after the first attempt for retryable failures.
        concurrency: requests in flight at once.
        rpm, tpm: optional request and token budgets per minute (see ``RateLimiter``).
        extra_body: extra JSON fields merged into every request body (they win on conflict).
        seed: sampling seed sent to the server, when given.
        backoff_base, backoff_max: exponential backoff parameters in seconds.
        hedge_after: send a backup copy of a call that has been on the wire this many seconds
            without an answer, and take whichever answers first (tail latency under load: a
            stuck call costs this long instead of ``timeout``). Off by default: it spends extra
            judge calls (counted in ``hedged_calls``).
        transport, sleep, rng: injection points for tests.
    """

    backend_name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        temperature: float = 0.0,
        timeout: float = 60.0,
        max_retries: int = 5,
        concurrency: int = 16,
        rpm: float | None = None,
        tpm: float | None = None,
        extra_body: Mapping[str, Any] | None = None,
        seed: int | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        hedge_after: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: SleepFn = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not base_url:
            raise ConfigError("base_url is required")
        if not model:
            raise ConfigError("model is required")
        if concurrency < 1:
            raise ConfigError(f"concurrency must be >= 1, got {concurrency}")
        if max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0, got {max_retries}")
        if timeout <= 0:
            raise ConfigError(f"timeout must be positive, got {timeout}")
        if hedge_after is not None and hedge_after <= 0:
            raise ConfigError(f"hedge_after must be positive, got {hedge_after}")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.temperature = temperature
        self.timeout = timeout
        self.max_retries = max_retries
        self.concurrency = concurrency
        self.seed = seed
        self.hedge_after = hedge_after
        self.hedged_calls = 0
        self.extra_body: dict[str, Any] = dict(extra_body or {})
        self.fingerprint = _fingerprint(model, temperature, seed, self.extra_body)
        self._backoff = (backoff_base, backoff_max)
        self._sleep = sleep
        self._rng = rng
        self._limiter = RateLimiter(rpm, tpm) if rpm is not None or tpm is not None else None
        key = api_key if api_key is not None else _key_from_env()
        self._headers = {"content-type": "application/json"}
        if key:
            self._headers["authorization"] = f"Bearer {key}"
        self._transport = transport
        self.uses_httpx = transport is not None or _proxied(self.base_url)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clients: list[httpx.AsyncClient] = []
        self._pool: HttpPool | None = None
        self._posts: list[Post] = []
        self._slots = Slots(())

    def __repr__(self) -> str:
        return f"OpenAIJudge(base_url={self.base_url!r}, model={self.model!r})"

    async def __aenter__(self) -> OpenAIJudge:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections (the judge stays usable and reconnects when called again)."""
        clients, self._clients, loop, self._loop = self._clients, [], self._loop, None
        pool, self._pool, self._posts = self._pool, None, []
        if loop is asyncio.get_running_loop():
            if pool is not None:
                pool.close()
            await asyncio.gather(*(client.aclose() for client in clients))

    def _bind(self) -> tuple[Slots, list[Post]]:
        """Slots and senders for the running loop, created on first use in each loop."""
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return self._slots, self._posts
        # Connections and queues belong to one event loop. A sync wrapper that runs every
        # batch in a fresh loop (asyncio.run) gets fresh ones instead of a dead pool.
        self._loop = loop
        if not self.uses_httpx:
            self._pool = HttpPool(
                self.base_url,
                headers=self._headers,
                ssl_context=_ssl_context() if self.base_url.startswith("https:") else None,
            )
            self._posts = [functools.partial(self._pool.post, "/chat/completions")]
            self._slots = Slots([0] * self.concurrency)
            return self._slots, self._posts
        # httpcore scans every connection of its pool on each request, so one pool of N
        # connections costs O(N) per call; small pools keep it flat (2x the throughput at 64).
        per_client = min(self.concurrency, _CONNECTIONS_PER_CLIENT)
        limits = httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client)
        self._clients = [
            httpx.AsyncClient(
                base_url=self.base_url,
                headers=self._headers,
                timeout=httpx.Timeout(self.timeout),
                limits=limits,
                transport=self._transport,
                verify=_ssl_context(),
            )
            for _ in range(math.ceil(self.concurrency / per_client))
        ]
        self._posts = [_httpx_post(client) for client in self._clients]
        # One token per permitted call in flight, naming its client.
        self._slots = Slots(slot % len(self._clients) for slot in range(self.concurrency))
        return self._slots, self._posts

    async def complete(self, request: JudgeRequest) -> JudgeReply:
        """Ask the judge; with ``want_probabilities``, also read the choices' token probabilities."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": _messages(request.messages),
            "max_tokens": request.max_tokens,
            "temperature": self.temperature,
        }
        if request.want_probabilities:
            body["logprobs"] = True
            body["top_logprobs"] = _TOP_LOGPROBS
        reply, payload = await self._call(body, request.messages, request.max_tokens, self.seed)
        if request.want_probabilities and request.choices:
            content = ((payload["choices"][0].get("logprobs") or {}).get("content")) or []
            probabilities = choice_probabilities(content, request.answer_prefix, request.choices)
            if probabilities is None:
                logger.debug("no usable logprobs for choices %s", request.choices)
            reply = JudgeReply(reply.text, reply.usage, reply.latency_s, probabilities)
        return reply

    async def generate(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        temperature: float,
        seed: int | None = None,
    ) -> JudgeReply:
        """Sample a free-form completion (e.g. a policy response) through the same retry path.

        ``seed`` defaults to the instance's seed.
        """
        body: dict[str, Any] = {
            "model": self.model,
            "messages": _messages(messages),
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        reply, _ = await self._call(body, messages, max_tokens, self.seed if seed is None else seed)
        return reply

    async def _call(
        self,
        body: dict[str, Any],
        messages: Sequence[Message],
        max_tokens: int,
        seed: int | None,
    ) -> tuple[JudgeReply, dict[str, Any]]:
        if seed is not None:
            body["seed"] = seed
        body.update(self.extra_body)
        # Serialised once: every retry sends identical bytes.
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        estimate = estimate_tokens(messages, max_tokens)
        attempts = 0

        async def attempt() -> tuple[dict[str, Any], float]:
            nonlocal attempts
            attempts += 1
            if self.hedge_after is None:
                return await self._attempt(raw, estimate, urgent=attempts > 1)
            return await self._hedged(raw, estimate, urgent=attempts > 1)

        payload, latency = await self._retrying(attempt)
        usage = _usage(payload.get("usage"))
        if self._limiter is not None and usage.prompt_tokens + usage.completion_tokens > 0:
            self._limiter.settle(estimate, usage.prompt_tokens + usage.completion_tokens)
        text = payload["choices"][0]["message"].get("content") or ""
        return JudgeReply(text=text, usage=usage, latency_s=latency), payload

    def _retrying(self, attempt: Callable[[], Awaitable[T]]) -> Awaitable[T]:
        base, cap = self._backoff
        return with_retries(
            attempt,
            max_retries=self.max_retries,
            base_delay=base,
            max_delay=cap,
            rng=self._rng,
            sleep=self._sleep,
            describe=f"POST {self.base_url}/chat/completions",
        )

    async def _hedged(
        self, raw: bytes, estimate: int, *, urgent: bool, backups: int = _MAX_BACKUPS
    ) -> tuple[dict[str, Any], float]:
        """One attempt, backed up once it has been on the wire ``hedge_after`` seconds without
        an answer: a copy is sent, retried on its own (and itself backed up, ``backups`` deep),
        and the first good answer wins."""
        assert self.hedge_after is not None
        sent = asyncio.Event()
        first = asyncio.ensure_future(self._attempt(raw, estimate, urgent=urgent, sent=sent))
        tasks: list[asyncio.Future[Any]] = [first]
        try:
            # The clock starts when the request is sent, not while it queues for a slot.
            on_wire = asyncio.ensure_future(sent.wait())
            tasks.append(on_wire)
            await asyncio.wait((first, on_wire), return_when=asyncio.FIRST_COMPLETED)
            done, _ = await asyncio.wait((first,), timeout=self.hedge_after)
            if done:
                return first.result()  # answered or failed in time: no backup
            self.hedged_calls += 1
            # A backup that fails fast (a 500, a dropped connection) is retried at once rather
            # than left waiting on the stalled first call's timeout.
            backup = asyncio.ensure_future(
                self._retrying(
                    lambda: (
                        self._hedged(raw, estimate, urgent=True, backups=backups - 1)
                        if backups > 1
                        else self._attempt(raw, estimate, urgent=True)
                    )
                )
            )
            tasks.append(backup)
            pending: set[asyncio.Future[Any]] = {first, backup}
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if task.exception() is None:
                        return task.result()
            error = backup.exception()
            if isinstance(error, BackendError):
                # The backup spent a whole retry budget: do not start another round.
                raise BackendError(
                    f"{error} (hedged call)", retryable=False, status=error.status
                ) from error
            raise error  # type: ignore[misc]
        finally:
            for task in tasks:
                task.cancel()

    async def _attempt(
        self, raw: bytes, estimate: int, *, urgent: bool = False, sent: asyncio.Event | None = None
    ) -> tuple[dict[str, Any], float]:
        slots, posts = self._bind()
        slot = await slots.acquire(urgent=urgent)
        try:
            if self._limiter is not None:
                await self._limiter.acquire(estimate)
            if sent is not None:
                sent.set()
            start = time.perf_counter()
            try:
                # The bound covers the whole attempt, connecting included, so a server that
                # trickles bytes cannot hold a slot forever.
                response = await _within(posts[slot](raw), self.timeout)
            except (asyncio.TimeoutError, httpx.TimeoutException) as exc:
                raise BackendError(
                    f"judge call timed out after {self.timeout:g}s", retryable=True
                ) from exc
            except (httpx.TransportError, OSError) as exc:
                raise BackendError(
                    f"judge connection failed: {type(exc).__name__}: {exc}", retryable=True
                ) from exc
            latency = time.perf_counter() - start
        finally:
            slots.release(slot)
        return _parse_response(response), latency


async def _within(awaitable: Awaitable[T], seconds: float) -> T:
    """``awaitable`` bounded by ``seconds`` (raises ``TimeoutError``)."""
    if sys.version_info >= (3, 11):
        # Not wait_for: on 3.11 it returns the result, and swallows the cancellation, when
        # the caller is cancelled just as the call completes; Ctrl-C would then be lost.
        async with asyncio.timeout(seconds):
            return await awaitable
    return await asyncio.wait_for(awaitable, seconds)


def _httpx_post(client: httpx.AsyncClient) -> Post:
    async def post(raw: bytes) -> httpx.Response:
        return await client.post("/chat/completions", content=raw)

    return post


def _proxied(base_url: str) -> bool:
    """Whether the environment (``HTTP(S)_PROXY``, ``ALL_PROXY``, ``NO_PROXY``) proxies the URL."""
    parts = urlsplit(base_url)
    proxies = urllib.request.getproxies_environment()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass_environment(parts.netloc, proxies)


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


def _parse_response(response: RawResponse | httpx.Response) -> dict[str, Any]:
    if isinstance(response, RawResponse):
        status, body = response.status, response.body
        if not 200 <= status < 300:
            response = httpx.Response(status, headers=response.headers, content=body)
    else:
        status, body = response.status_code, response.content
    if 200 <= status < 300:
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            text = body[:200].decode("utf-8", "replace")
            raise BackendError(
                f"malformed body (not JSON): {text!r}", retryable=True, status=status
            ) from None
        choices = payload.get("choices") if isinstance(payload, dict) else None
        first = choices[0] if isinstance(choices, list) and choices else None
        message = first.get("message") if isinstance(first, dict) else None
        if not isinstance(message, dict) or not isinstance(
            message.get("content", ""), (str, type(None))
        ):
            raise BackendError(
                f"malformed body (no choices[0].message.content): "
                f"{body[:200].decode('utf-8', 'replace')!r}",
                retryable=True,
                status=status,
            )
        return payload
    raise http_error(response, who="judge server")


def _usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    details = raw.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    return Usage(
        prompt_tokens=int(raw.get("prompt_tokens") or 0),
        cached_prompt_tokens=int(cached or 0),
        completion_tokens=int(raw.get("completion_tokens") or 0),
    )


def _prefix_pattern(prefix: str) -> re.Pattern[str]:
    # Tolerate whitespace differences: models write {"verdict":"met"} as often as {"verdict": "met"}.
    chars = [re.escape(c) for c in prefix if not c.isspace()]
    return re.compile(r"\s*".join(chars))


def _token_names(candidate: str, choice: str) -> bool:
    """Whether a token spells the start of ``choice``, or all of it followed by punctuation."""
    if choice.startswith(candidate):
        return True
    if candidate.startswith(choice):
        following = candidate[len(choice)]
        return not (following.isalnum() or following == "_")
    return False


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
        candidate = token[len(head) :].lstrip(" ")
        if not candidate:
            continue
        matching = [c for c in choices if _token_names(candidate, c)]
        if len(matching) != 1:
            continue
        logprob = alternative.get("logprob")
        if isinstance(logprob, (int, float)) and not math.isnan(logprob):
            mass[matching[0]] += math.exp(logprob)
    total = sum(mass.values())
    if total <= 0.0:
        return None
    return {choice: value / total for choice, value in mass.items()}
