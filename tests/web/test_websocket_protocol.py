"""The lean WebSocket protocol `omnidesk serve` runs (web/websocket_protocol.py), under the installed uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from omnidesk.web.websocket_protocol import (
    MAX_MESSAGE_BYTES,
    LazyEvent,
    LazyQueue,
    LeanWebSocketProtocol,
    server_options,
)
from tests.conftest import run_async

handshakes_kept: list[bool] = []


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Echoes text frames; "bye" makes it close with 4321. Notes whether the handshake was let go of."""
    assert scope["type"] == "websocket"
    await receive()
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        protocols = [p for p in _lean_protocols() if p.scope is scope]
        handshakes_kept.append(any(p.request is not None or p.response is not None for p in protocols))
        if message.get("text") == "bye":
            await send({"type": "websocket.close", "code": 4321})
            return
        await send({"type": "websocket.send", "text": message.get("text")})


def _lean_protocols() -> list[LeanWebSocketProtocol]:
    return [c for c in SERVER["server"].server_state.connections if isinstance(c, LeanWebSocketProtocol)]


SERVER: dict[str, Any] = {}


@pytest.fixture(scope="module")
def ws_url() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(echo, host="127.0.0.1", port=port, log_level="warning", lifespan="off", **server_options())
    server = uvicorn.Server(config)
    SERVER["server"] = server
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"ws://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(10)


def test_frames_go_both_ways_in_order_and_the_app_closes_with_its_code(ws_url: str) -> None:
    async def scenario() -> tuple[list[str], int | None]:
        async with connect(ws_url) as ws:
            for i in range(200):  # more than one read's worth, so reading pauses and resumes
                await ws.send(f"frame {i} 你好")
            answers = [str(await asyncio.wait_for(ws.recv(), 5)) for _ in range(200)]
            await ws.send("bye")
            with contextlib.suppress(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            return answers, ws.close_code

    answers, code = run_async(scenario())
    assert answers == [f"frame {i} 你好" for i in range(200)]
    assert code == 4321
    assert handshakes_kept and not any(handshakes_kept)  # the handshake's request and response were let go


def test_a_message_over_the_limit_closes_the_socket(ws_url: str) -> None:
    async def scenario() -> int | None:
        async with connect(ws_url, max_size=None) as ws:
            await ws.send("x" * (MAX_MESSAGE_BYTES + 1))
            with contextlib.suppress(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            return ws.close_code

    assert run_async(scenario()) == 1009  # "message too big"


def test_lazy_queue_and_event_behave_like_asyncio_ones() -> None:
    async def scenario() -> list[object]:
        seen: list[object] = []
        queue = LazyQueue()
        assert queue.empty() and queue.qsize() == 0
        getter = asyncio.create_task(queue.get())
        await asyncio.sleep(0)
        queue.put_nowait("a")
        queue.put_nowait("b")
        seen.append(await getter)
        seen.append(queue.qsize())
        seen.append(await queue.get())
        seen.append(queue.empty())
        cancelled = asyncio.create_task(queue.get())
        await asyncio.sleep(0)
        cancelled.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await cancelled
        queue.put_nowait("c")
        seen.append(await asyncio.wait_for(queue.get(), 1))  # not swallowed by the cancelled getter

        event = LazyEvent()
        waiters = [asyncio.create_task(event.wait()) for _ in range(3)]
        await asyncio.sleep(0)
        seen.append(any(w.done() for w in waiters))
        event.set()
        seen.append(await asyncio.wait_for(asyncio.gather(*waiters), 1))
        event.clear()
        seen.append(event.is_set())
        return seen

    assert run_async(scenario()) == ["a", 1, "b", True, "c", False, [True, True, True], False]
