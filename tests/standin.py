"""A provider stand-in's server: an ASGI app on 127.0.0.1 served by uvicorn in a thread.

Stand-ins (``tests/comms/twilio_standin.py``, ``tests/notify/fcm_standin.py``)
subclass :class:`ThreadedServer`, implement ``_handle`` (the provider's answer to a request), and
get real HTTP on a free port: ``start()`` returns once the server accepts
connections, ``stop()`` ends it without waiting out a slow response.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from typing import Self

import uvicorn


class ThreadedServer:
    name = "stand-in"

    def __init__(self) -> None:
        self.base_url = ""
        self._closing = False
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    #: Every answer is JSON of this type.
    content_type = b"application/json"
    #: Seconds every response waits before it is sent (after the request was handled).
    delay_s = 0.0

    def _handle(self, method: str, path: str, headers: dict[bytes, bytes],
                body: bytes) -> tuple[int, object, dict[str, str]]:
        """The provider's answer: (status, JSON document, extra headers). Runs on the server's thread."""
        raise NotImplementedError

    async def _app(self, scope, receive, send) -> None:
        """A raw ASGI app: read the body, answer with ``_handle``'s verdict after ``delay_s``."""
        if scope["type"] != "http":
            return
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        status, doc, extra = self._handle(scope["method"], scope["path"], dict(scope["headers"]), body)
        await self._wait(self.delay_s)
        payload = json.dumps(doc).encode()
        out = [(b"content-type", self.content_type), (b"content-length", str(len(payload)).encode())]
        out += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": payload})

    async def _wait(self, seconds: float) -> None:
        """Sleep in short steps, so stopping the server never waits out a slow response."""
        deadline = time.monotonic() + seconds
        while not self._closing and time.monotonic() < deadline:
            await asyncio.sleep(min(0.05, deadline - time.monotonic()))

    def start(self) -> Self:
        self._closing = False
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(self._app, lifespan="off", log_level="warning", access_log=False,
                                ws="none", loop="asyncio", http="h11", interface="asgi3")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name=self.name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the {self.name} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._closing = True
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
