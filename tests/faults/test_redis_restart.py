"""Fault test: the cluster's Redis restarts (killed, started again on the same port, empty: no persistence) while
customers write to conversations the assistant holds and a webhook is subscribed. A web process (jobs relayed
only) and an `omnidesk worker` process on PostgreSQL and a Redis server of the test's own (the machine's Redis is
never touched). Widget calls made while Redis is away get 503 + Retry-After (docs/security.md: the limiter fails
closed) and the widget sends again with the same client id. Afterwards: every customer message stored once,
exactly one assistant reply to each, every webhook delivered, and the open sockets get what happens after the
restart (the hub resubscribes and tells them to resync what they missed). Bounded: about 15 s on a quiet machine."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from omnidesk.conversations.models import Message
from omnidesk.core.db import Database
from omnidesk.core.settings import Settings
from omnidesk.events.bus import MemoryBus
from omnidesk.webhooks.models import DeliveryState, WebhookDelivery
from tests.conftest import require_service, run_async
from tests.faults.cluster import Receiver, RedisServer, process_env, start_worker, stop, subscribe, wait_for
from tests.jobs.botload import bot_replies, bot_world
from tests.servers import ServerProcess

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

VISITORS = 3
ROUNDS = 6  # messages per visitor; Redis goes away after round 2 and comes back during round 3


@pytest.fixture
def own_db(database_url: str) -> Iterator[Database]:
    require_service("OMNIDESK_TEST_DATABASE_URL", "PostgreSQL")  # the cluster mode runs on PostgreSQL only
    database = Database(database_url, bus=MemoryBus())
    yield database
    database.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


async def _socket(url: str, token: str) -> ClientConnection:
    ws = await connect(url, open_timeout=10)
    await ws.send(json.dumps({"type": "auth", "token": token}))
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 15))
        if frame.get("type") == "ready":
            return ws


async def _post(http: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    """What the widget does: send, and on 503 (or no answer) send the same thing again (same client id)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            answer = await http.post(path, json=body, headers=headers)
            if answer.status_code < 300:
                data: dict[str, Any] = answer.json()
                return data
            assert answer.status_code == 503, answer.text
            assert answer.headers.get("retry-after"), "a 503 says when to try again"
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{path} never accepted"
        await asyncio.sleep(0.2)


@pytest.mark.timeout(300)
def test_a_redis_restart_loses_no_message_reply_webhook_or_socket(
    own_db: Database, settings: Settings, receiver: Receiver, tmp_path: Path
) -> None:
    redis = RedisServer(tmp_path).start()
    world, _ = bot_world(own_db, 0)  # the assistant takes every new conversation
    subscribe(own_db, settings, world.tenant_id, receiver.url, ["message.created"])
    env = process_env(
        settings, tmp_path,
        OMNIDESK_REDIS_URL=redis.url,
        OMNIDESK_RUN_JOBS_IN_PROCESS="false",
        OMNIDESK_JOB_REDELIVER_SECONDS="60",  # the default: what Redis lost is sent again without waiting for it
        OMNIDESK_OUTBOUND_ALLOW=f"127.0.0.1:{receiver.port}",
        OMNIDESK_WIDGET_CONVERSATIONS_PER_IP="100000",
        OMNIDESK_WIDGET_SESSIONS_PER_IP="100000",
        OMNIDESK_WIDGET_MESSAGES_PER_MINUTE="100000",
    )  # fmt: skip
    web = ServerProcess(env, tmp_path)
    worker_log = tmp_path / "worker.log"
    web.launch()
    worker = start_worker(env, worker_log)
    logs = [web.log, worker_log, redis.log]
    sent: dict[str, int] = {}  # client id -> seq of the stored customer message
    frames: list[list[dict[str, Any]]] = [[] for _ in range(VISITORS)]
    last_seq: list[int] = [0] * VISITORS
    try:
        web.wait_ready(120)

        async def scenario() -> None:
            async with httpx.AsyncClient(base_url=web.url, timeout=10) as http:
                widget = f"/api/v1/widget/{world.slug}"
                visitors = [await _post(http, f"{widget}/session", {}, {}) for _ in range(VISITORS)]
                headers = [{"Authorization": f"Bearer {v['token']}"} for v in visitors]
                conversations = []
                for n in range(VISITORS):
                    client_id = f"open-{uuid.uuid4().hex}"
                    opened = await _post(
                        http, f"{widget}/conversations", {"message": "怎么退货", "client_id": client_id}, headers[n]
                    )
                    conversations.append(opened["id"])
                    sent[client_id] = 1

                async def listen(n: int) -> None:
                    """A widget's socket: reads frames; if the server closes it, connects again (as chat.js)."""
                    while True:
                        try:
                            ws = await _socket(web.ws_url, visitors[n]["socket_token"])
                            frames[n].append({"type": "connected"})
                            async for raw in ws:
                                frames[n].append(json.loads(raw))
                        except (ConnectionClosed, OSError, TimeoutError):
                            frames[n].append({"type": "closed"})
                            await asyncio.sleep(0.3)

                listeners = [asyncio.create_task(listen(n)) for n in range(VISITORS)]
                deadline = time.monotonic() + 60
                while not all(any(f["type"] == "connected" for f in got) for got in frames):
                    assert time.monotonic() < deadline, "sockets never connected"
                    await asyncio.sleep(0.05)

                async def outage() -> None:
                    redis.kill()
                    await asyncio.sleep(1.5)
                    await asyncio.to_thread(redis.start)

                restart: asyncio.Task[None] | None = None
                texts = ["退款多久到账", "怎么退货", "运费谁出"]
                for round_ in range(ROUNDS):
                    if round_ == 2:
                        restart = asyncio.create_task(outage())
                        await asyncio.sleep(0.2)  # Redis is gone: this round's calls get 503 until it is back
                    for n in range(VISITORS):
                        client_id = f"r{round_}-{n}-{uuid.uuid4().hex[:8]}"
                        message = await _post(
                            http, f"{widget}/conversations/{conversations[n]}/messages",
                            {"body": texts[round_ % len(texts)], "client_id": client_id}, headers[n],
                        )  # fmt: skip
                        sent[client_id] = message["seq"]
                        last_seq[n] = max(last_seq[n], message["seq"])
                    await asyncio.sleep(0.1)
                assert restart is not None
                await restart

                def answered_last() -> bool:
                    return all(
                        any(
                            f.get("type") == "message" and f["message"]["sender_type"] == "bot"
                            and f["message"]["seq"] > last_seq[n] for f in got
                        )
                        for n, got in enumerate(frames)
                    )  # fmt: skip

                deadline = time.monotonic() + 90
                while not answered_last():
                    assert time.monotonic() < deadline, f"sockets did not get the last replies: {frames}"
                    await asyncio.sleep(0.1)
                for task in listeners:
                    task.cancel()
                for task in listeners:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

        run_async(scenario())

        with own_db.tenant_read(world.tenant_id) as s:
            stored = dict(
                s.execute(
                    select(Message.client_id, func.count())
                    .where(Message.sender_type == "customer", Message.client_id.in_(list(sent)))
                    .group_by(Message.client_id)
                ).all()
            )
            customer_ids = list(
                s.scalars(select(Message.id).where(Message.sender_type == "customer", Message.client_id.in_(list(sent))))
            )  # fmt: skip
        assert stored == dict.fromkeys(sent, 1), "every customer message stored exactly once"
        wait_for(lambda: all(bot_replies(own_db, world, customer_ids).values()), 90, "a reply to each message", logs)

        def deliveries() -> dict[str, str]:
            with own_db.tenant_read(world.tenant_id) as s:
                return {str(i): st for i, st in s.execute(select(WebhookDelivery.id, WebhookDelivery.state))}

        wait_for(lambda: set(deliveries().values()) == {DeliveryState.DELIVERED}, 90, "every webhook delivered", logs)
    finally:
        stop(worker)
        web.stop()
        redis.kill()
    assert bot_replies(own_db, world, customer_ids) == dict.fromkeys(customer_ids, 1), "exactly one reply each"
    stored_deliveries = deliveries()
    # One delivery per customer message and per public bot reply (message.created), each received.
    assert len(stored_deliveries) == 2 * len(customer_ids)
    assert set(receiver.seen()) == set(stored_deliveries)
    for got in frames:
        kinds = [f["type"] for f in got]
        assert "resync" in kinds or kinds.count("connected") > 1, (
            f"after the restart each socket was told to resync what it missed (or connected again): {kinds}"
        )
    assert "lost its messages" in worker_log.read_text(), "the worker noticed the restart and sent again at once"
