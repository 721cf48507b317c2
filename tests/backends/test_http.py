"""The lean HTTP/1.1 pool against a real loopback server that writes exact bytes."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator, Callable

import pytest
import trustme

from rubricate.backends import Resilient, create_openai_judge
from rubricate.backends._http import HttpPool, ProtocolViolation
from rubricate.backends.openai import OpenAIJudge, _proxied
from rubricate.errors import BackendError
from rubricate.types import JudgeRequest, Message

# One scripted reply per request: bytes to write, then whether to close the connection.
Reply = tuple[bytes, bool]


class RawServer:
    """Reads one request at a time (headers + content-length body) and answers from a script."""

    def __init__(self, script: Callable[[int, bytes], Reply]) -> None:
        self.script = script
        self.requests: list[bytes] = []
        self.connections = 0
        self.hung_up = 0  # connections the client closed
        self.server: asyncio.AbstractServer | None = None

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=ssl_context)
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                data, close = self.script(len(self.requests), request)
                writer.write(data)
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            self.hung_up += 1
        finally:
            writer.close()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


def ok(payload: object, *, extra: str = "") -> bytes:
    body = json.dumps(payload).encode()
    return (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def chunked(body: bytes, pieces: int = 3) -> bytes:
    step = max(1, len(body) // pieces)
    out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    for start in range(0, len(body), step):
        piece = body[start : start + step]
        out += f"{len(piece):x};ext=1\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\nX-Trailer: yes\r\n\r\n"


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., object]]:
    servers: list[RawServer] = []

    async def start(script: Callable[[int, bytes], Reply], **kwargs: object) -> tuple:
        server = RawServer(script)
        port = await server.start(**kwargs)  # type: ignore[arg-type]
        servers.append(server)
        return server, port

    yield start
    for server in servers:
        await server.stop()


async def test_keep_alive_reuses_one_connection_and_sends_exact_bytes(serve) -> None:
    server, port = await serve(lambda n, _: (ok({"n": n}), False))
    pool = HttpPool(f"http://127.0.0.1:{port}/v1", headers={"authorization": "Bearer k"})
    replies = [await pool.post("/chat/completions", b'{"a":1}') for _ in range(3)]
    assert [json.loads(r.body)["n"] for r in replies] == [1, 2, 3]
    assert server.connections == 1
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /v1/chat/completions HTTP/1.1" and body == b'{"a":1}'
    assert {"content-length: 7", f"host: 127.0.0.1:{port}", "authorization: Bearer k"} <= set(
        lines[1:]
    )
    assert replies[0].headers["content-type"] == "application/json"
    pool.close()


async def test_chunked_body_split_across_writes_with_trailers(serve) -> None:
    body = json.dumps({"text": "x" * 5000}).encode()
    _, port = await serve(lambda n, _: (chunked(body, pieces=7), False))
    pool = HttpPool(f"http://127.0.0.1:{port}", headers={})
    assert (await pool.post("/p", b"{}")).body == body
    assert (await pool.post("/p", b"{}")).body == body  # connection still in step
    pool.close()


async def test_body_delimited_by_close_and_connection_close_header(serve) -> None:
    replies = {
        1: (b'HTTP/1.1 200 OK\r\n\r\n{"until": "close"}', True),
        2: (ok({"n": 2}, extra="Connection: close\r\n"), True),
        3: (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}", True),
    }
    server, port = await serve(lambda n, _: replies[n])
    pool = HttpPool(f"http://127.0.0.1:{port}", headers={})
    assert json.loads((await pool.post("/", b"")).body) == {"until": "close"}
    assert json.loads((await pool.post("/", b"")).body) == {"n": 2}
    assert (await pool.post("/", b"")).body == b"{}"
    assert server.connections == 3 and not pool._idle  # none of them was kept
    pool.close()


async def test_a_stale_keep_alive_connection_is_replaced_without_losing_the_request(
    serve,
) -> None:
    # The server drops the idle connection just as the second request arrives on it (a
    # keep-alive timeout race): the request is resent on a fresh connection, once.
    replies = {1: (ok({"n": 1}), False), 2: (b"", True), 3: (ok({"n": 3}), False)}
    server, port = await serve(lambda n, _: replies[n])
    pool = HttpPool(f"http://127.0.0.1:{port}", headers={})
    assert json.loads((await pool.post("/", b"")).body) == {"n": 1}
    assert json.loads((await pool.post("/", b"")).body) == {"n": 3}
    assert server.connections == 2 and len(server.requests) == 3
    pool.close()


async def test_a_fresh_connection_closed_mid_reply_is_an_error(serve) -> None:
    _, port = await serve(lambda n, _: (b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{", True))
    pool = HttpPool(f"http://127.0.0.1:{port}", headers={})
    with pytest.raises(ConnectionResetError, match="mid-reply"):
        await pool.post("/", b"")


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"SPDY/3 200 OK\r\n\r\n", "not an HTTP/1.x status line"),
        (b"HTTP/1.1 200 OK\r\nbroken header\r\n\r\n", "malformed header line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", "bad content-length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
    ],
)
async def test_protocol_violations_are_named(serve, reply: bytes, message: str) -> None:
    _, port = await serve(lambda n, _: (reply, False))
    pool = HttpPool(f"http://127.0.0.1:{port}", headers={})
    with pytest.raises(ProtocolViolation, match=message):
        await pool.post("/", b"")
    assert not pool._idle


async def test_a_cancelled_call_closes_its_connection(serve) -> None:
    server, port = await serve(
        lambda n, _: (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", False)
    )
    pool = HttpPool(f"http://127.0.0.1:{port}", headers={})
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(pool.post("/", b""), 0.2)
    assert not pool._idle  # a half-read reply must not poison the next call
    for _ in range(100):  # and the socket is not leaked: the server sees it closed
        if server.hung_up:
            break
        await asyncio.sleep(0.01)
    assert server.hung_up == 1


async def test_https_with_a_trusted_certificate(serve) -> None:
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    _, port = await serve(lambda n, _: (ok({"tls": n}), False), ssl_context=server_context)
    pool = HttpPool(f"https://localhost:{port}/v1", headers={}, ssl_context=client_context)
    assert json.loads((await pool.post("/x", b"{}")).body) == {"tls": 1}
    assert json.loads((await pool.post("/x", b"{}")).body) == {"tls": 2}
    pool.close()
    untrusting = HttpPool(f"https://localhost:{port}/v1", headers={})
    with pytest.raises(ssl.SSLCertVerificationError):
        await untrusting.post("/x", b"{}")


async def test_judge_maps_pool_failures_to_retryable_errors(serve) -> None:
    replies = {
        1: (b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{", True),
        2: (
            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 21\r\n\r\n"
            b'{"error": "overload"}',
            False,
        ),
        3: (ok({"choices": [{"message": {"content": '{"verdict": "met"}'}}]}), False),
    }
    _, port = await serve(lambda n, _: replies[n])
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    judge = create_openai_judge(f"http://127.0.0.1:{port}/v1", "m", sleep=sleep)
    assert isinstance(judge, Resilient) and isinstance(judge.provider, OpenAIJudge)
    assert not judge.provider.uses_httpx
    request = JudgeRequest(messages=(Message("user", "q"),), criterion_ids=("c",))
    reply = await judge.complete(request)
    assert reply.text == '{"verdict": "met"}' and len(delays) == 2
    with pytest.raises(BackendError, match="connection failed"):
        await OpenAIJudge(base_url="http://127.0.0.1:9/v1", model="m").complete(request)
    await judge.aclose()


def test_proxy_environment_decides_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    assert not _proxied("http://judge.internal:8000/v1")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy:3128")
    assert _proxied("http://judge.internal:8000/v1")
    assert not _proxied("https://api.openai.com/v1")
    monkeypatch.setenv("NO_PROXY", "judge.internal")
    assert not _proxied("http://judge.internal:8000/v1")
    assert OpenAIJudge(base_url="http://other:1/v1", model="m").uses_httpx


def test_the_pool_works_on_uvloop() -> None:
    """uvicorn runs the reward server on uvloop when it is installed, and uvloop's transports
    do not subclass ``asyncio.Transport``: a check that they did left every call hanging."""
    import uvloop  # a dev dependency

    async def exchange() -> tuple[list[int], int]:
        server = RawServer(lambda n, _: (ok({"n": n}), n == 2))
        port = await server.start()
        pool = HttpPool(f"http://127.0.0.1:{port}", headers={})
        try:
            replies = [
                await asyncio.wait_for(pool.post("/chat/completions", b"{}"), 5) for _ in range(3)
            ]
        finally:
            pool.close()
            await server.stop()
        return [json.loads(r.body)["n"] for r in replies], server.connections

    numbers, connections = uvloop.run(exchange())
    assert numbers == [1, 2, 3]
    assert connections == 2  # kept alive, then a new connection after the server closed one
