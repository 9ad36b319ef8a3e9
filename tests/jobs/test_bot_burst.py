"""A burst of customer messages to conversations the assistant holds, through a real server process (its socket
intake, its job queue running the turns in batches): every message is acknowledged without waiting for the
assistant's backlog, and every one gets exactly one reply of its own."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from omnidesk.core import migrate
from omnidesk.core.db import Database
from omnidesk.events.bus import MemoryBus
from tests.conftest import run_async
from tests.jobs.botload import bot_world
from tests.servers import ServerProcess

SECRET = "bot-burst-test-secret-" + "y" * 26
VISITORS = 20
PER_VISITOR = 10
QUESTIONS = ("怎么退货", "退款多久到账")


@pytest.mark.timeout(180)
def test_a_burst_to_the_assistant_is_acknowledged_at_once_and_each_message_answered_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'burst.db'}"
    migrate.upgrade(url)
    db = Database(url, bus=MemoryBus())
    world, _ = bot_world(db, 0)  # FAQ and the assistant's settings: it takes every new conversation
    db.dispose()
    server = ServerProcess(
        {
            "OMNIDESK_DATABASE_URL": url,
            "OMNIDESK_SECRET_KEY": SECRET,
            "OMNIDESK_ENVIRONMENT": "test",
            "OMNIDESK_BOT_ENCODER": "none",
            "OMNIDESK_BOT_TURN_MAX_LAG_SECONDS": "600",  # this test is about answers, not the holding message
            "OMNIDESK_WIDGET_CONVERSATIONS_PER_IP": "100000",
            "OMNIDESK_WIDGET_SESSIONS_PER_IP": "100000",
            "OMNIDESK_WIDGET_MESSAGES_PER_MINUTE": "100000",
        },
        tmp_path,
    ).start()
    try:
        frames = run_async(_burst(server.url, server.ws_url, world.slug))
    finally:
        server.stop()

    acks: dict[str, tuple[int, str]] = {}  # client id → (arrival order, stored message id)
    replies: dict[str, list[int]] = {}  # customer message id → arrival order of each bot reply to it
    for order, frame in enumerate(frames):
        if frame["type"] == "ack":
            acks[frame["client_id"]] = (order, frame["message"]["id"])
        elif frame["type"] == "message" and frame["message"]["sender_type"] == "bot":
            replies.setdefault(frame["message"]["client_id"].removeprefix("bot:"), []).append(order)
    sent = [f"burst-{v}-{n}" for v in range(VISITORS) for n in range(PER_VISITOR)]
    assert set(acks) == set(sent), "every message of the burst is acknowledged"
    burst = {message_id: order for order, message_id in acks.values()}
    assert {m: len(replies.get(m, [])) for m in burst} == dict.fromkeys(burst, 1), "exactly one reply each"
    # Acknowledging never waits for the assistant: the whole burst is acknowledged before the assistant has
    # answered it, and no message's reply comes before its own acknowledgement.
    last_ack = max(burst.values())
    assert last_ack < max(replies[m][0] for m in burst)
    assert all(replies[m][0] > order for m, order in burst.items())


async def _burst(base: str, ws_url: str, slug: str) -> list[dict[str, Any]]:
    """Open the visitors (each with a first conversation the assistant holds), let the assistant answer their
    opening messages, then send every message at once and read every socket until each is answered (bounded)."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        visitors = []
        for i in range(VISITORS):
            session = (await http.post(f"/api/v1/widget/{slug}/session", json={})).json()
            opened = await http.post(
                f"/api/v1/widget/{slug}/conversations",
                json={"message": "你好", "client_id": f"open-{i}"},
                headers={"Authorization": f"Bearer {session['token']}"},
            )
            assert opened.status_code == 201, opened.text
            visitors.append((session["socket_token"], opened.json()["id"]))
    sockets = [await _open(ws_url, token) for token, _ in visitors]
    frames: list[dict[str, Any]] = []

    async def read(ws: ClientConnection) -> None:
        async for raw in ws:
            frame = json.loads(raw)
            if frame.get("type") in ("ack", "message", "error"):
                frames.append(frame)

    readers = [asyncio.create_task(read(ws)) for ws in sockets]
    try:
        for n in range(PER_VISITOR):
            for v, (ws, (_, conversation_id)) in enumerate(zip(sockets, visitors, strict=True)):
                body = QUESTIONS[n % len(QUESTIONS)]
                frame = {
                    "type": "send",
                    "conversation_id": conversation_id,
                    "client_id": f"burst-{v}-{n}",
                    "body": body,
                }
                await ws.send(json.dumps(frame, ensure_ascii=False))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            acked = {f["message"]["id"] for f in frames if f["type"] == "ack"}
            answered = {
                f["message"]["client_id"].removeprefix("bot:")
                for f in frames
                if f["type"] == "message" and f["message"]["sender_type"] == "bot"
            }
            if len(acked) == VISITORS * PER_VISITOR and acked <= answered:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # a duplicate reply would arrive now
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    errors = [f for f in frames if f["type"] == "error"]
    assert not errors, errors[:3]
    return frames


async def _open(ws_url: str, token: str) -> ClientConnection:
    ws = await connect(ws_url)
    await ws.send(json.dumps({"type": "auth", "token": token}))
    ready = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert ready["type"] == "ready", ready
    return ws
