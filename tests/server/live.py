"""The reward server on a real loopback socket, served by uvicorn from a background thread."""

from __future__ import annotations

import threading
import time

import uvicorn
from fastapi import FastAPI

from rubricate.server import server_config


class LiveServer:
    """Starts on construction; ``url`` is ``http://127.0.0.1:PORT``. Use as a context manager."""

    def __init__(self, app: FastAPI) -> None:
        # The same uvicorn configuration as ``rubricate serve``.
        self._server = uvicorn.Server(server_config(app, host="127.0.0.1", port=0))
        self._thread = threading.Thread(target=self._server.run, name="reward-server", daemon=True)
        self._thread.start()
        for _ in range(1000):  # bounded: about 10 s
            if self._server.started or not self._thread.is_alive():
                break
            time.sleep(0.01)
        if not self._server.started:
            raise RuntimeError("reward server did not start")
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def close(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)

    def __enter__(self) -> LiveServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
