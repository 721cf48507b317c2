"""A real llama-cpp-python OpenAI-compatible server on loopback, for benchmarks.

``LlamaServer`` runs ``python -m llama_cpp.server`` on 127.0.0.1 at a free port, verbose,
with its RAM prompt cache on (``--cache true``: besides the KV of the previous prompt, the
server keeps the states of earlier prompts and restores the one sharing the longest prefix).
A thread reads the server's stderr, stamps each line with ``time.monotonic()`` and keeps
llama.cpp's per-request perf figures (``prompt eval time = X ms / N tokens``: N is the
number of prompt tokens the server really evaluated, i.e. not reused from a cache).

``SchemaProxy`` sits between a client and that server for clients that send OpenAI's
``response_format: {"type": "json_schema", ...}``, which llama-cpp-python 0.3.36 rejects
(it accepts only ``text`` and ``json_object``). It rewrites that field to the server's own
spelling of the same constraint, ``{"type": "json_object", "schema": ...}`` (a grammar built
from the schema), forwards everything else unchanged and records each request's messages.
"""

from __future__ import annotations

import collections
import http.client
import json
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import IO, Any

__all__ = ["LlamaServer", "PerfRecord", "ProxiedCall", "SchemaProxy"]

_PROMPT_EVAL = re.compile(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens")
_EVAL = re.compile(r":\s+eval time =\s*([\d.]+) ms /")
_TOTAL = re.compile(r"total time =\s*([\d.]+) ms")
_TAIL_LINES = 40


@dataclass(frozen=True, slots=True)
class PerfRecord:
    """llama.cpp's perf figures of one request, as the server printed them."""

    at: float  # time.monotonic() when the block's last line was read
    prompt_tokens: int  # prompt tokens evaluated (not reused from a cache)
    prompt_ms: float  # time spent evaluating them
    eval_ms: float  # time spent generating


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LlamaServer:
    """``python -m llama_cpp.server`` in a subprocess; use as a context manager.

    Args:
        model_path: the GGUF file.
        n_ctx: context size in tokens.
        n_threads: threads for prompt processing and generation.
        alias: the model name clients send.
        log_path: where to write the server's whole stderr (optional).
    """

    def __init__(
        self,
        model_path: Path,
        *,
        n_ctx: int,
        n_threads: int,
        alias: str = "judge",
        log_path: Path | None = None,
    ) -> None:
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.alias = alias
        self.log_path = log_path
        self.port = 0
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._records: list[PerfRecord] = []
        self._tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    def __enter__(self) -> LlamaServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, timeout: float = 300.0) -> None:
        """Start the server and wait until it answers ``GET /v1/models``."""
        self.port = free_port()
        command = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model_path),
            "--model_alias",
            self.alias,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.n_ctx),
            "--n_threads",
            str(self.n_threads),
            "--n_threads_batch",
            str(self.n_threads),
            "--cache",
            "true",
            # The RAM cache counts only each state's KV bytes (about 26 MB for Qwen2.5-1.5B at
            # these prompt lengths) against its capacity, but every state also copies the
            # logits buffer (n_batch x vocabulary floats, about 311 MB for Qwen's 151,936
            # tokens): at the default 2 GiB it grew past 23 GB and the kernel killed the
            # server after about 65 calls. 256 MiB keeps about ten recent prompts.
            "--cache_size",
            str(256 << 20),
            "--verbose",
            "true",
            # No client here asks for logprobs: logits of the last token only, as a judge
            # server that serves no logprobs would run.
            "--logits_all",
            "false",
        ]
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        stream = self._process.stderr
        if stream is None:  # cannot happen with stderr=PIPE; narrows the type
            raise RuntimeError("no stderr pipe")
        self._reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._reader.join()
                raise RuntimeError(
                    f"llama_cpp.server exited with code {self._process.returncode}:\n"
                    + "\n".join(self._tail)
                )
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2.0):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"llama_cpp.server did not answer within {timeout:g}s")

    def stop(self) -> None:
        """Stop the server and wait until its stderr has been read to the end."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if self._reader is not None:
            self._reader.join()

    def perf(self, since: float, until: float = float("inf")) -> list[PerfRecord]:
        """Perf records read in ``[since, until]`` (``time.monotonic()`` values)."""
        return [r for r in self._records if since <= r.at <= until]

    def _read(self, stream: IO[str]) -> None:
        log = self.log_path.open("w", encoding="utf-8") if self.log_path else None
        prompt: tuple[float, int] = (0.0, 0)
        generation_ms = 0.0
        try:
            for line in stream:
                if log is not None:
                    log.write(line)
                self._tail.append(line.rstrip("\n"))
                if match := _PROMPT_EVAL.search(line):
                    prompt = (float(match.group(1)), int(match.group(2)))
                elif match := _EVAL.search(line):
                    generation_ms = float(match.group(1))
                elif _TOTAL.search(line):
                    self._records.append(
                        PerfRecord(
                            at=time.monotonic(),
                            prompt_tokens=prompt[1],
                            prompt_ms=prompt[0],
                            eval_ms=generation_ms,
                        )
                    )
                    prompt, generation_ms = (0.0, 0), 0.0
        finally:
            if log is not None:
                log.close()


@dataclass(frozen=True, slots=True)
class ProxiedCall:
    """One chat-completion request that went through the proxy, and what came back."""

    messages: list[dict[str, Any]]
    status: int
    completion_tokens: int


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms ACK wait
    server: _ProxyServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        payload = json.loads(body)
        response_format = payload.get("response_format")
        if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
            schema = (response_format.get("json_schema") or {}).get("schema") or {}
            payload["response_format"] = {"type": "json_object", "schema": schema}
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=None)
        try:
            upstream.connect()
            if upstream.sock is not None:
                upstream.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            upstream.request(
                "POST",
                self.path,
                json.dumps(payload).encode("utf-8"),
                {"content-type": "application/json"},
            )
            response = upstream.getresponse()
            data = response.read()
        finally:
            upstream.close()
        completion_tokens = 0
        if response.status == 200:
            completion_tokens = int(json.loads(data).get("usage", {}).get("completion_tokens", 0))
        with self.server.lock:
            self.server.calls.append(
                ProxiedCall(list(payload.get("messages", [])), response.status, completion_tokens)
            )
        self.send_response(response.status)
        self.send_header("content-type", response.getheader("content-type", "application/json"))
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the bench prints tables
        return


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream_port: int) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.upstream_port = upstream_port
        self.lock = threading.Lock()
        self.calls: list[ProxiedCall] = []


class SchemaProxy:
    """Loopback proxy to a ``LlamaServer`` that translates ``json_schema`` response formats.

    Use as a context manager; ``calls`` lists the requests it forwarded, in order.
    """

    def __init__(self, server: LlamaServer) -> None:
        self._server = _ProxyServer(server.port)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def calls(self) -> list[ProxiedCall]:
        with self._server.lock:
            return list(self._server.calls)

    def __enter__(self) -> SchemaProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
