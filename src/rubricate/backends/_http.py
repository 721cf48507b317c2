"""A lean HTTP/1.1 client for JSON POSTs to one origin, on bare asyncio protocols.

A judge call is one small POST and one JSON reply, thousands of times a second under RL load.
A general client spends about a millisecond of CPU per call on machinery this path never uses
(per-request state machines, middleware, proxy and redirect handling); here a call is one
``write`` of preassembled bytes and one incremental parse of the reply. Plain keep-alive
HTTP/1.1 over TCP or TLS only: callers that need a proxy use httpx instead (see ``OpenAIJudge``).
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

__all__ = ["HttpPool", "RawResponse", "StaleConnection"]

_MAX_HEADER_BYTES = 64 * 1024


class StaleConnection(ConnectionError):
    """A reused keep-alive connection closed before any byte of the reply: safe to resend."""


class ProtocolViolation(ConnectionError):
    """The server sent something that is not an HTTP/1.x response."""


@dataclass(frozen=True, slots=True)
class RawResponse:
    """A complete reply: status, reason, headers (names lower-cased) and body bytes."""

    status: int
    reason: str
    headers: dict[str, str]
    body: bytes


class _Connection(asyncio.Protocol):
    """One keep-alive connection; at most one request on it at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.used = False
        self._buffer = bytearray()
        self._reply: asyncio.Future[RawResponse] | None = None
        self._head: tuple[int, str, dict[str, str]] | None = None
        self._length: int | None = None  # body bytes expected; None = chunked or until close
        self._chunked = False
        self._keep_alive = True

    # --- asyncio.Protocol -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not an isinstance check: uvloop's transports implement the interface without
        # subclassing ``asyncio.Transport``.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        reply = self._reply
        if reply is None or reply.done():
            return
        if self._head is not None and self._length is None and not self._chunked:
            self._finish(bytes(self._buffer))  # a body delimited by the close itself
        elif self._head is None and not self._buffer and self.used:
            reply.set_exception(StaleConnection("keep-alive connection closed by the server"))
        else:
            reason = f": {exc}" if exc else ""
            reply.set_exception(
                ConnectionResetError(f"server closed the connection mid-reply{reason}")
            )

    def data_received(self, data: bytes) -> None:
        if self._reply is None or self._reply.done():
            self.close()  # bytes nobody asked for: this connection cannot be trusted
            return
        self._buffer += data
        try:
            self._advance()
        except ProtocolViolation as error:
            self._keep_alive = False
            self._reply.set_exception(error)

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost settles the reply

    # --- one exchange ---------------------------------------------------------------

    def send(self, request: bytes) -> asyncio.Future[RawResponse]:
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        self._reply = loop.create_future()
        self._buffer.clear()
        self._head = None
        self._length = None
        self._chunked = False
        self.transport.write(request)
        return self._reply

    @property
    def reusable(self) -> bool:
        return (
            not self.closed
            and self._keep_alive
            and self._reply is not None
            and (
                self._reply.done()
                and not self._reply.cancelled()
                and self._reply.exception() is None
            )
        )

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _advance(self) -> None:
        if self._head is None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > _MAX_HEADER_BYTES:
                    raise ProtocolViolation("response headers exceed 64 KiB")
                return
            self._parse_head(bytes(self._buffer[:end]))
            del self._buffer[: end + 4]
        if self._chunked:
            body = _dechunk(self._buffer)
            if body is not None:
                self._finish(body)
        elif self._length is not None and len(self._buffer) >= self._length:
            self._finish(bytes(self._buffer[: self._length]))

    def _parse_head(self, raw: bytes) -> None:
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolViolation(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise ProtocolViolation(f"malformed header line: {line[:80]!r}")
            name = name.strip().lower()
            value = value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        status = int(parts[1])
        self._head = (status, parts[2] if len(parts) > 2 else "", headers)
        connection = headers.get("connection", "").lower()
        self._keep_alive = "close" not in connection and (
            parts[0] != "HTTP/1.0" or "keep-alive" in connection
        )
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._chunked = True
        elif "content-length" in headers:
            try:
                self._length = int(headers["content-length"])
            except ValueError:
                raise ProtocolViolation(
                    f"bad content-length: {headers['content-length']!r}"
                ) from None
        elif status in (204, 304) or 100 <= status < 200:
            self._length = 0
        else:
            self._keep_alive = False  # the body ends when the server closes

    def _finish(self, body: bytes) -> None:
        assert self._head is not None and self._reply is not None
        status, reason, headers = self._head
        self._reply.set_result(RawResponse(status, reason, headers, body))


def _dechunk(buffer: bytearray) -> bytes | None:
    """The body of a complete chunked message in ``buffer``; None while incomplete."""
    body = bytearray()
    position = 0
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            return None
        size_text = bytes(buffer[position:line_end]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ProtocolViolation(f"bad chunk size: {size_text[:20]!r}") from None
        start = line_end + 2
        if size == 0:
            # Optional trailers, then an empty line.
            trailer_end = buffer.find(b"\r\n\r\n", start - 2)
            return bytes(body) if trailer_end >= 0 else None
        if len(buffer) < start + size + 2:
            return None
        body += buffer[start : start + size]
        position = start + size + 2


class HttpPool:
    """Keep-alive connections to the origin of ``base_url``, reused last-in first-out.

    The pool does not limit how many connections are open; callers bound concurrency
    themselves (``OpenAIJudge`` does, with its slots). Bound to the loop that first uses it.
    """

    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str],
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl = (
            (ssl_context or ssl.create_default_context()) if parts.scheme == "https" else None
        )
        self.path = parts.path.rstrip("/")
        default_port = self.port == (443 if self.ssl else 80)
        host = f"[{self.host}]" if ":" in self.host else self.host
        authority = host if default_port else f"{host}:{self.port}"
        fixed = {"host": authority, "accept": "application/json", **headers}
        fixed.pop("content-length", None)
        self._header_block = "".join(f"{k}: {v}\r\n" for k, v in fixed.items()).encode("latin-1")
        self._idle: list[_Connection] = []

    def _request_bytes(self, path: str, body: bytes) -> bytes:
        head = f"POST {self.path}{path} HTTP/1.1\r\ncontent-length: {len(body)}\r\n".encode(
            "latin-1"
        )
        return b"".join((head, self._header_block, b"\r\n", body))

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(
            _Connection,
            self.host,
            self.port,
            ssl=self.ssl,
            server_hostname=self.host if self.ssl else None,
        )
        return connection

    async def post(self, path: str, body: bytes) -> RawResponse:
        """POST ``body`` to ``path`` (under the base URL's path) and read the whole reply."""
        request = self._request_bytes(path, body)
        while self._idle:
            connection = self._idle.pop()
            if connection.closed:
                continue
            try:
                return await self._exchange(connection, request)
            except StaleConnection:
                continue  # the server timed the idle connection out: take another
        return await self._exchange(await self._connect(), request)

    async def _exchange(self, connection: _Connection, request: bytes) -> RawResponse:
        try:
            reply = await connection.send(request)
        except BaseException:
            connection.close()  # cancelled or failed mid-exchange: its state is unknown
            raise
        connection.used = True
        if connection.reusable:
            self._idle.append(connection)
        else:
            connection.close()
        return reply

    def close(self) -> None:
        """Close every idle connection (connections in use close when their call ends)."""
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
