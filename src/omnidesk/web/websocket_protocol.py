"""uvicorn's WebSocket protocol (``websockets``' sans-I/O one, uvicorn's default) trimmed for many idle sockets.

An open socket that waits for its next frame should cost little: tens of thousands of widget visitors sit on one
process. Stock, uvicorn keeps per socket an ``asyncio.Queue`` for incoming messages (three deques allocated up
front, about 3 KiB), an ``asyncio.Event`` for write flow control (0.8 KiB) and the handshake's request and response
with their parsed headers (3 KiB) for the socket's whole life. This subclass swaps the first two for equivalents
that allocate only while in use and lets go of the handshake once it is answered: 7 KiB less per socket
(bench/socket_memory.py), the same protocol on the wire. ``omnidesk serve`` runs with it; ``uvicorn
omnidesk.web.asgi:app --ws omnidesk.web.websocket_protocol:LeanWebSocketProtocol`` does the same by hand.

It leans on attribute names of uvicorn's ``WebSocketsSansIOProtocol`` (``queue``, ``writable``, ``request``,
``response``, ``start_keepalive``); ``tests/web/test_websocket_protocol.py`` runs it under the installed uvicorn.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class _Waiters:
    """Futures waiting on something, held in a list created only while someone waits."""

    __slots__ = ("_waiting",)

    def __init__(self) -> None:
        self._waiting: list[asyncio.Future[None]] | None = None

    async def wait(self) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._waiting is None:
            self._waiting = [future]
        else:
            self._waiting.append(future)
        try:
            await future
        finally:
            if self._waiting is not None:
                if future in self._waiting:
                    self._waiting.remove(future)
                if not self._waiting:
                    self._waiting = None

    def wake_all(self) -> None:
        waiting, self._waiting = self._waiting, None
        for future in waiting or ():
            if not future.done():
                future.set_result(None)


class LazyQueue:
    """The part of ``asyncio.Queue`` uvicorn uses (unbounded: ``put_nowait``, ``get``, ``empty``, ``qsize``)."""

    __slots__ = ("_getters", "_items")

    def __init__(self) -> None:
        self._items: deque[Any] | None = None
        self._getters = _Waiters()

    def put_nowait(self, item: Any) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        self._getters.wake_all()

    async def get(self) -> Any:
        while not self._items:
            await self._getters.wait()
        item = self._items.popleft()
        if not self._items:
            self._items = None
        return item

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items) if self._items else 0


class LazyEvent:
    """``asyncio.Event`` (``set``, ``clear``, ``is_set``, ``wait``) without a deque allocated up front."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters = _Waiters()

    def set(self) -> None:
        if not self._set:
            self._set = True
            self._waiters.wake_all()

    def clear(self) -> None:
        self._set = False

    def is_set(self) -> bool:
        return self._set

    async def wait(self) -> bool:
        while not self._set:
            await self._waiters.wait()
        return True


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = LazyQueue()  # type: ignore[assignment]
        writable = LazyEvent()
        writable.set()
        self.writable = writable  # type: ignore[assignment]

    def start_keepalive(self) -> None:
        # Called once the handshake's answer is written: nothing reads the request or the response after that.
        self.request = None  # type: ignore[assignment]
        self.response = None  # type: ignore[assignment]
        super().start_keepalive()


# The largest WebSocket message a client may send, in bytes: the gateway's frame limit (64 Ki characters) in
# UTF-8 at its widest. uvicorn's default (16 MiB) would let each socket make the server buffer that much.
MAX_MESSAGE_BYTES = 4 * 64 * 1024


def server_options() -> dict[str, Any]:
    """uvicorn's WebSocket settings as ``omnidesk serve`` runs them (the tests' live servers use them too)."""
    return {
        "ws": LeanWebSocketProtocol,
        "ws_max_size": MAX_MESSAGE_BYTES,
        # Chat frames are small: compressing each one cost a tenth of the server's time under load (measured
        # with bench/bench_realtime.py), saved a few bytes, and per-message deflate keeps a compressor per socket.
        "ws_per_message_deflate": False,
    }
