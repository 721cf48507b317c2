"""The reward server's HTTP layer: uvicorn settings that hold under hostile clients.

uvicorn closes idle keep-alive connections, but nothing limits how long a client may take to
send its request headers or its body: 300 connections each holding half a header stayed open
indefinitely. ``GuardedH11Protocol`` adds both limits. h11 reads a request carrying both
``Content-Length`` and ``Transfer-Encoding`` as chunked; such framing is how requests are
smuggled past proxies, so ``RefuseAmbiguousFraming`` answers 400 and closes the connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import h11
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn import Config, Server
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = [
    "BODY_IDLE_TIMEOUT_S",
    "HEADER_TIMEOUT_S",
    "KEEP_ALIVE_S",
    "GuardedH11Protocol",
    "RefuseAmbiguousFraming",
    "run_server",
    "server_config",
]

logger = logging.getLogger(__name__)

HEADER_TIMEOUT_S = 10.0  # from a request's first byte to the end of its headers
BODY_IDLE_TIMEOUT_S = 30.0  # longest silence while a request body is being sent
KEEP_ALIVE_S = 30.0  # an idle connection between requests


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header deadline and a body idle timeout.

    The header deadline starts at the connection (or at the first byte after a finished
    request) and is not extended by trickled bytes; the body timeout restarts with each chunk.
    When either passes the connection is closed (an application reading the body then sees
    the client disconnect).
    """

    header_timeout_s = HEADER_TIMEOUT_S
    body_idle_timeout_s = BODY_IDLE_TIMEOUT_S

    _read_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout_s)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        state = self.conn.their_state
        if state is h11.IDLE:
            if self._read_timer is None:  # a deadline, not an idle timer: keep the first
                self._arm(self.header_timeout_s)
        elif state is h11.SEND_BODY:
            self._arm(self.body_idle_timeout_s)
        else:
            self._disarm()

    def on_response_complete(self) -> None:
        self._disarm()  # uvicorn's keep-alive timer watches the idle connection from here
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._read_timer = self.loop.call_later(seconds, self._read_timed_out)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _read_timed_out(self) -> None:
        self._read_timer = None
        if not self.transport.is_closing():
            logger.info("closing a connection that sent no complete request in time")
            self.transport.close()


class RefuseAmbiguousFraming:
    """ASGI middleware: 400 and close for a request framed two ways (or two lengths)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            names = [name.lower() for name, _ in scope["headers"]]
            lengths = names.count(b"content-length")
            if lengths > 1 or (lengths and b"transfer-encoding" in names):
                await _refuse(send)
                return
        await self.app(scope, receive, send)


async def _refuse(send: Send) -> None:
    message = "a request must not carry both Content-Length and Transfer-Encoding (or two lengths)"
    body = json.dumps({"error": {"code": "ambiguous_framing", "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def server_config(app: Any, *, host: str, port: int, verbose: bool = False) -> Config:
    """The uvicorn configuration of ``rubricate serve`` (tests serve the app the same way)."""
    return Config(
        app,
        host=host,
        port=port,
        http=GuardedH11Protocol,
        log_level="info" if verbose else "warning",
        access_log=verbose,
        timeout_keep_alive=int(KEEP_ALIVE_S),
        lifespan="on",
    )


def run_server(app: Any, *, host: str, port: int, verbose: bool = False) -> None:
    """Serve ``app`` until interrupted (blocks); see ``server_config``."""
    Server(server_config(app, host=host, port=port, verbose=verbose)).run()
