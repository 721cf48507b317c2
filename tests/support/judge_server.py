"""A fake OpenAI-compatible judge on a real loopback socket, with deterministic verdicts and faults.

In a test::

    with JudgeServer(fault_rate=0.3, seed=1) as server:
        judge = OpenAIJudge(base_url=server.url, model="stub")
        ...
        assert server.requests >= n

As a process (prints its URL on stdout, counts requests into ``--count-file``)::

    python -m tests.support.judge_server --port 0 --fault-rate 0.2 --latency 0.01 --count-file n.txt

Replies to ``POST /v1/chat/completions``:
  * criteria found in the last message (``<criterion id="...">`` blocks as rubricate renders them):
    one -> ``{"verdict": "met"}``; several -> ``{"verdicts": [{"id": ..., "verdict": ...}]}``;
    each verdict from ``decide(criterion_id, criterion_text, last_message)``, by default a hash of
    the criterion text and the graded response, so equal requests always get equal verdicts;
  * no criterion (HealthBench grader prompts): ``{"explanation": ..., "criteria_met": bool}``;
  * two responses in pairwise seats (``<response-A-...>``, ``<response-B-...>``), when
    ``compare(first, second) -> "A" | "B" | "tie"`` is given: ``{"winner": ...}``;
  * ``respond(body) -> str``, when given, replaces all of these;
  * ``rewrite(payload) -> object | bytes``, when given, replaces the whole completion it gets
    (usage and logprobs included) with its JSON (``NaN`` and ``Infinity`` allowed) or, for
    bytes, with those bytes as they are (e.g. ``b'..."prompt_tokens": 1e999...'``).
  With ``logprobs``, each verdict token carries ``top_logprobs`` for ``met``/``not``.

Faults, ``fault_rate`` of requests, kinds chosen from ``faults``:
  ``429`` (``Retry-After`` header), ``500``, ``timeout`` (answers only after ``timeout_s``),
  ``drop`` (closes the connection without answering), ``malformed`` (200 with a non-JSON body or
  JSON without choices), ``garbage`` (a valid completion whose content has no verdict; not in
  the default kinds because it is a verdict-parsing fault, not a transport one).
  Whether a request faults depends only on ``seed``, its body and how often that body was
  seen, never on arrival order, so concurrent runs are reproducible. ``fail_first_n`` makes the
  first n requests fail regardless, cycling through ``faults``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import os
import re
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

__all__ = [
    "DEFAULT_FAULTS",
    "FAULT_KINDS",
    "GARBAGE_CONTENT",
    "JudgeServer",
    "ServerOptions",
    "default_decide",
    "main",
]

FAULT_KINDS = ("429", "500", "timeout", "drop", "malformed", "garbage")
DEFAULT_FAULTS = ("429", "500", "timeout", "drop", "malformed")
GARBAGE_CONTENT = "I think the answer is probably"

Decide = Callable[[str, str, str], str]
Compare = Callable[[str, str], str]
Respond = Callable[[dict[str, Any]], str]
Rewrite = Callable[[dict[str, Any]], Any]

_CRITERION_RE = re.compile(r'<criterion id="([^"]+)"[^>]*>\n(.*?)\n</criterion>', re.DOTALL)
_RESPONSE_RE = re.compile(r"<(response-[0-9a-f]+)>\n(.*?)\n</\1>", re.DOTALL)
_SEAT_RE = re.compile(r"<(response-([AB])-[0-9a-f]+)>\n(.*?)\n</\1>", re.DOTALL)
_VERDICT_KEY_RE = re.compile(r'"verdict": "')
_TOKEN_RE = re.compile(r" ?[A-Za-z0-9]+|_[A-Za-z0-9]*| ?[^\sA-Za-z0-9_]+|\s+")


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).digest()


def _graded_response(user_message: str) -> str:
    match = _RESPONSE_RE.search(user_message)
    return match.group(2) if match else user_message


def default_decide(criterion_id: str, criterion_text: str, user_message: str) -> str:
    """``met`` or ``not_met`` from a hash of the criterion text and the graded response."""
    del criterion_id  # the text decides, so renaming an id does not flip a verdict
    digest = _digest(criterion_text, _graded_response(user_message))
    return "met" if digest[0] % 2 == 0 else "not_met"


def _confidence(criterion_text: str, user_message: str) -> float:
    """P(chosen verdict) in [0.55, 0.99], deterministic per request."""
    return 0.55 + 0.44 * _digest("p", criterion_text, _graded_response(user_message))[1] / 255


@dataclass
class ServerOptions:
    """What the fake judge says and how it misbehaves (see the module docstring)."""

    decide: Decide = default_decide
    compare: Compare | None = None
    respond: Respond | None = None
    rewrite: Rewrite | None = None
    fault_rate: float = 0.0  # in [0, 1]
    faults: Sequence[str] = DEFAULT_FAULTS
    seed: int = 0
    fail_first_n: int = 0
    latency_s: float = 0.0  # added to every answered call
    max_concurrent: int | None = None  # calls beyond it wait
    timeout_s: float = 30.0  # how long a "timeout" fault stalls
    retry_after: str = "0"  # Retry-After header of injected 429s
    record: bool = True  # keep bodies and headers in .log / .headers
    count_file: str | None = None

    def __post_init__(self) -> None:
        self.faults = tuple(self.faults)
        if not self.faults or not set(self.faults) <= set(FAULT_KINDS):
            raise ValueError(f"faults must be a non-empty subset of {FAULT_KINDS}: {self.faults}")
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be in [0, 1], got {self.fault_rate}")


class _Core:
    """The asyncio server; runs on whichever loop starts it."""

    def __init__(self, options: ServerOptions) -> None:
        self.o = options
        self.requests = 0
        self.log: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.injected: Counter[str] = Counter()
        self._seen: dict[bytes, int] = {}
        self._count_fd: int | None = None
        if options.count_file:
            self._count_fd = os.open(options.count_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        self._semaphore: asyncio.Semaphore | None = None
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> int:
        if self.o.max_concurrent:
            self._semaphore = asyncio.Semaphore(self.o.max_concurrent)
        self._server = await asyncio.start_server(self._connection, host, port, backlog=1024)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        if self._count_fd is not None:
            os.close(self._count_fd)
            self._count_fd = None

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                method, path, headers, body = request
                answer = await self._dispatch(method, path, headers, body, reader.at_eof)
                if answer is None:  # "drop": hang up without a word
                    return
                status, extra, payload, content_type = answer
                head = (
                    f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
                    f"content-type: {content_type}\r\ncontent-length: {len(payload)}\r\n{extra}\r\n"
                )
                writer.write(head.encode("latin-1") + payload)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, ValueError, asyncio.IncompleteReadError):
            return  # a client that went away or spoke no HTTP: hang up
        except asyncio.CancelledError:
            return  # only ``stop`` cancels; ending quietly keeps asyncio from logging it
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def _dispatch(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        client_gone: Callable[[], bool] = lambda: False,
    ) -> tuple[int, str, bytes, str] | None:
        path = path.split("?", 1)[0].rstrip("/")
        if method == "POST" and path == "/v1/chat/completions":
            return await self._chat(headers, body, client_gone)
        if method == "GET" and path in ("/health", "/v1/health"):
            return _json(200, {"status": "ok"})
        if method == "GET" and path == "/stats":
            return _json(200, {"requests": self.requests, "faults": dict(self.injected)})
        if method == "GET" and path == "/v1/models":
            return _json(200, {"object": "list", "data": [{"id": "judge-stub", "object": "model"}]})
        return _json(404, {"error": {"message": f"no route {method} {path}", "code": "not_found"}})

    def _count(self) -> int:
        self.requests += 1
        if self._count_fd is not None:
            # The count only grows in digits, so overwriting from offset 0 never leaves a tail.
            os.pwrite(self._count_fd, f"{self.requests}\n".encode(), 0)
        return self.requests

    def _fault(self, number: int, body: bytes) -> str | None:
        faults = self.o.faults
        if number <= self.o.fail_first_n:
            return faults[(number - 1) % len(faults)]
        if self.o.fault_rate <= 0.0:
            return None
        key = hashlib.blake2b(body, digest_size=16).digest()
        seen = self._seen[key] = self._seen.get(key, 0) + 1
        seed = str(self.o.seed).encode()
        draw = hashlib.blake2b(seed + key + seen.to_bytes(4, "big"), digest_size=16).digest()
        if int.from_bytes(draw[:8], "big") / 2**64 >= self.o.fault_rate:
            return None
        return faults[int.from_bytes(draw[8:], "big") % len(faults)]

    async def _chat(
        self, headers: dict[str, str], body: bytes, client_gone: Callable[[], bool]
    ) -> tuple[int, str, bytes, str] | None:
        number = self._count()
        try:
            request = json.loads(body)
            messages = request["messages"]
            # The message that asks about criteria: a re-ask appends messages after it.
            asking = [
                str(m.get("content") or "")
                for m in messages
                if "<criterion" in str(m.get("content") or "")
            ]
            last = asking[-1] if asking else str(messages[-1].get("content") or "")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            return _json(400, {"error": {"message": "body is not a chat request", "code": "bad"}})
        if self.o.record:
            self.log.append(request)
            self.headers.append(headers)
        fault = self._fault(number, body)
        if fault is not None:
            self.injected[fault] += 1
        if fault == "429":
            error = {"error": {"message": "rate limited (injected)", "code": "rate_limit"}}
            return _json(429, error, extra=f"retry-after: {self.o.retry_after}\r\n")
        if fault == "500":
            return _json(500, {"error": {"message": "internal error (injected)", "code": "boom"}})
        if fault == "drop":
            return None
        if self._semaphore is not None:
            async with self._semaphore:
                return await self._answer(request, messages, last, fault, client_gone)
        return await self._answer(request, messages, last, fault, client_gone)

    async def _answer(
        self,
        request: dict[str, Any],
        messages: list[Any],
        last: str,
        fault: str | None,
        client_gone: Callable[[], bool],
    ) -> tuple[int, str, bytes, str] | None:
        if self.o.latency_s > 0:
            await asyncio.sleep(self.o.latency_s)
        if fault == "timeout":
            # Stall, but give the slot back once the client hangs up, as vLLM and llama.cpp
            # abort a request whose connection closed.
            until = time.monotonic() + self.o.timeout_s
            while time.monotonic() < until:
                if client_gone():
                    return None
                await asyncio.sleep(min(0.05, max(0.0, until - time.monotonic())))
        if fault == "malformed":
            if hashlib.blake2b(last.encode(), digest_size=1).digest()[0] % 2:
                return 200, "", b"<html><body>502 Bad Gateway</body></html>", "text/html"
            return _json(200, {"object": "chat.completion", "choices": []})
        try:
            content, confidence = self._content(request, last)
        except Exception as exc:  # a test's decide/respond failed: say so instead of hanging up
            return _json(500, {"error": {"message": f"stub judge failed: {exc!r}", "code": "stub"}})
        if fault == "garbage":
            content = GARBAGE_CONTENT
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": "stop",
            "logprobs": None,
        }
        if request.get("logprobs"):
            top_n = int(request.get("top_logprobs") or 0)
            choice["logprobs"] = {"content": _logprobs(content, confidence, top_n)}
        prompt_chars = sum(len(str(m.get("content") or "")) for m in messages)
        payload = {
            "id": f"chatcmpl-stub-{self.requests}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", "judge-stub"),
            "choices": [choice],
            "usage": {
                "prompt_tokens": prompt_chars // 4,
                "completion_tokens": max(1, len(content) // 4),
                "total_tokens": prompt_chars // 4 + max(1, len(content) // 4),
                "prompt_tokens_details": {"cached_tokens": 0},
            },
        }
        if self.o.rewrite is not None:
            rewritten = self.o.rewrite(payload)
            if isinstance(rewritten, bytes):
                return 200, "", rewritten, "application/json"
            return _json(200, rewritten)
        return _json(200, payload)

    def _content(self, request: dict[str, Any], last: str) -> tuple[str, float]:
        if self.o.respond is not None:
            return self.o.respond(request), 0.9
        if self.o.compare is not None:
            # The seats stay in the first user message: a re-ask appends turns after it.
            for message in request["messages"]:
                seats = {s: t for _, s, t in _SEAT_RE.findall(str(message.get("content") or ""))}
                if set(seats) == {"A", "B"}:
                    return json.dumps({"winner": self.o.compare(seats["A"], seats["B"])}), 0.9
        criteria = _CRITERION_RE.findall(last)
        if not criteria:
            met = _digest("healthbench", last)[0] % 2 == 0
            explanation = "The response " + ("meets" if met else "does not meet") + " the item."
            return json.dumps({"explanation": explanation, "criteria_met": met}), 0.9
        if len(criteria) == 1:
            cid, text = criteria[0]
            verdict = self.o.decide(cid, text, last)
            return json.dumps({"verdict": verdict}), _confidence(text, last)
        verdicts = [
            {"id": cid, "verdict": self.o.decide(cid, text, last)} for cid, text in criteria
        ]
        return json.dumps({"verdicts": verdicts}), _confidence(criteria[0][1], last)


async def _read_request(
    reader: asyncio.StreamReader,
) -> tuple[str, str, dict[str, str], bytes] | None:
    """One HTTP/1.1 request, or ``None`` when the client closed the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", ""):
        raise ValueError("chunked bodies are not supported")  # no OpenAI client sends them
    length = int(headers.get("content-length") or 0)
    body = await reader.readexactly(length) if length else b""
    return method, path, headers, body


def _json(status: int, payload: Any, *, extra: str = "") -> tuple[int, str, bytes, str]:
    return status, extra, json.dumps(payload).encode("utf-8"), "application/json"


def _logprobs(content: str, confidence: float, top_n: int) -> list[dict[str, Any]]:
    """Per-token logprobs; verdict tokens get plausible ``met``/``not`` alternatives."""
    verdict_starts = {m.end() for m in _VERDICT_KEY_RE.finditer(content)}
    entries: list[dict[str, Any]] = []
    position = 0
    for token in _TOKEN_RE.findall(content):
        top = [(token, 0.999)]
        if position in verdict_starts:  # the other verdict, and a token naming no verdict
            other = "not" if token == "met" else "met"
            top = [(token, confidence * 0.99), (other, (1 - confidence) * 0.99), ("part", 0.01)]
        alternatives = [
            {"token": t, "logprob": math.log(p), "bytes": list(t.encode())} for t, p in top
        ]
        entries.append({**alternatives[0], "top_logprobs": alternatives[: max(1, top_n)]})
        position += len(token)
    return entries


class JudgeServer:
    """The fake judge on ``host``:``port`` (0 = any free port), served from a background thread.

    Starts on construction; use as a context manager or call ``close()``. ``url`` ends in
    ``/v1``; ``requests`` counts chat-completion requests (faulted ones included); ``log`` and
    ``headers`` hold each request's JSON body and lower-cased headers when ``record`` is true;
    ``injected`` counts the faults served by kind.
    """

    def __init__(
        self,
        *,
        decide: Decide = default_decide,
        compare: Compare | None = None,
        respond: Respond | None = None,
        rewrite: Rewrite | None = None,
        fault_rate: float = 0.0,
        faults: Sequence[str] = DEFAULT_FAULTS,
        seed: int = 0,
        fail_first_n: int = 0,
        latency_s: float = 0.0,
        max_concurrent: int | None = None,
        timeout_s: float = 30.0,
        retry_after: str = "0",
        record: bool = True,
        count_file: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        options = ServerOptions(
            decide=decide,
            compare=compare,
            respond=respond,
            rewrite=rewrite,
            fault_rate=fault_rate,
            faults=faults,
            seed=seed,
            fail_first_n=fail_first_n,
            latency_s=latency_s,
            max_concurrent=max_concurrent,
            timeout_s=timeout_s,
            retry_after=retry_after,
            record=record,
            count_file=count_file,
        )
        self._core = _Core(options)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.port = 0
        self._thread = threading.Thread(
            target=self._run, args=(host, port), name="judge-server", daemon=True
        )
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise RuntimeError(f"judge server could not start: {self._error}") from self._error
        self.url = f"http://{host}:{self.port}/v1"

    def _run(self, host: str, port: int) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self.port = self._loop.run_until_complete(self._core.start(host, port))
        except BaseException as exc:  # reported to the constructor's thread
            self._error = exc
            self._ready.set()
            self._loop.close()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._core.stop())
        self._loop.close()

    @property
    def requests(self) -> int:
        return self._core.requests

    @property
    def log(self) -> list[dict[str, Any]]:
        return self._core.log

    @property
    def headers(self) -> list[dict[str, str]]:
        return self._core.headers

    @property
    def injected(self) -> Counter[str]:
        return self._core.injected

    def close(self) -> None:
        """Stop serving and join the thread (idempotent)."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> JudgeServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM; print the base URL as the first stdout line."""
    parser = argparse.ArgumentParser(prog="python -m tests.support.judge_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--faults", default=",".join(DEFAULT_FAULTS), help="comma-separated kinds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fail-first-n", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per call")
    parser.add_argument("--max-concurrent", type=int, default=None)
    parser.add_argument("--timeout-s", type=float, default=30.0)
    parser.add_argument("--retry-after", default="0")
    parser.add_argument("--count-file", default=None)
    args = parser.parse_args(argv)
    core = _Core(
        ServerOptions(
            fault_rate=args.fault_rate,
            faults=[f for f in args.faults.split(",") if f],
            seed=args.seed,
            fail_first_n=args.fail_first_n,
            latency_s=args.latency,
            max_concurrent=args.max_concurrent,
            timeout_s=args.timeout_s,
            retry_after=args.retry_after,
            record=False,  # a long-lived process must not grow with every request
            count_file=args.count_file,
        )
    )

    async def serve() -> None:
        port = await core.start(args.host, args.port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signum, stop.set)
        sys.stdout.write(f"http://{args.host}:{port}/v1\n")
        sys.stdout.flush()
        await stop.wait()
        await core.stop()

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
