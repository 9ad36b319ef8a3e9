"""Two server processes on PostgreSQL and Redis: a customer on one and an agent on the other see each other live,
and after one process is killed the customer resumes on the other with nothing lost and nothing twice."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from websockets.asyncio.client import ClientConnection, connect

from omnidesk.accounts import actions as accounts
from omnidesk.accounts.schemas import ApiKeyCreate, StaffCreate
from omnidesk.core import migrate
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.core.settings import load_settings
from omnidesk.realtime.tokens import SocketGrant, mint
from omnidesk.security.keys import Keyring
from omnidesk.security.permissions import Role
from tests.conftest import require_service, run_async
from tests.factories import make_tenant
from tests.servers import ServerProcess

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

SECRET = "two-process-test-secret-" + "x" * 24


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess, str]]:
    base = require_service("OMNIDESK_TEST_DATABASE_URL", "PostgreSQL")
    redis_url = require_service("OMNIDESK_TEST_REDIS_URL", "Redis")
    url = load_settings(database_url=base).effective_database_url
    name = f"omnidesk_cluster_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db_url = make_url(url).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(db_url)
    env = {
        "OMNIDESK_DATABASE_URL": db_url,
        "OMNIDESK_REDIS_URL": redis_url,
        "OMNIDESK_SECRET_KEY": SECRET,
        "OMNIDESK_ENVIRONMENT": "test",
        "OMNIDESK_WIDGET_CONVERSATIONS_PER_IP": "100000",
        "OMNIDESK_WIDGET_SESSIONS_PER_IP": "100000",
        "OMNIDESK_WIDGET_MESSAGES_PER_MINUTE": "100000",
    }
    servers = [ServerProcess(env, tmp_path) for _ in range(2)]
    try:
        for server in servers:
            server.launch()
        for server in servers:
            server.wait_ready()
        yield servers[0], servers[1], db_url
    finally:
        for server in servers:
            server.stop()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


async def _socket(url: str, token: str) -> ClientConnection:
    ws = await connect(url)
    await ws.send(json.dumps({"type": "auth", "token": token}))
    assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "ready"
    return ws


async def _next(ws: ClientConnection, kind: str, sender: str | None = None) -> dict[str, Any]:
    while True:
        event: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if event.get("type") == kind and (sender is None or event["message"]["sender_type"] == sender):
            return event


def test_customer_and_agent_on_different_processes(cluster: tuple[ServerProcess, ServerProcess, str]) -> None:
    a, b, db_url = cluster
    db = Database(db_url)
    tenant_id, slug, _ = make_tenant(db)
    with db.tenant_transaction(tenant_id) as s:
        system = system_actor(tenant_id)
        agent, _ = accounts.do_create_staff(
            s, system, StaffCreate(email=f"agent@{slug}.example", display_name="坐席", role=Role.AGENT)
        )
        _, key = accounts.do_create_api_key(s, system, ApiKeyCreate(name="agent", role=Role.AGENT))
        _, boss_key = accounts.do_create_api_key(s, system, ApiKeyCreate(name="boss", role=Role.SUPERVISOR))
    db.dispose()
    staff_headers = {"Authorization": f"Bearer {key}"}
    agent_token = mint(Keyring(SECRET), SocketGrant(tenant_id=tenant_id, kind="staff", staff_id=agent.id))

    async def scenario() -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            session = (await http.post(f"{a.url}/api/v1/widget/{slug}/session", json={})).json()
            visitor = {"Authorization": f"Bearer {session['token']}"}
            widget = f"/api/v1/widget/{slug}"
            customer_ws = await _socket(a.ws_url, session["socket_token"])
            agent_ws = await _socket(b.ws_url, agent_token)
            # Presence goes through Redis: process A sees the agent whose socket is on process B.
            board = await http.get(
                f"{a.url}/api/v1/routing/supervisor", headers={"Authorization": f"Bearer {boss_key}"}
            )
            connected = {x["staff_id"]: x["connected"] for x in board.json()["agents"]}
            assert connected[str(agent.id)] is True
            conv = (
                await http.post(
                    f"{a.url}{widget}/conversations",
                    json={"message": "你好，订单 SK1001 到哪了？", "client_id": "c-first"},
                    headers=visitor,
                )
            ).json()
            first = await _next(agent_ws, "message")
            assert first["message"]["body"] == "你好，订单 SK1001 到哪了？"
            await customer_ws.send(json.dumps({"type": "typing", "conversation_id": conv["id"], "active": True}))
            typing = await _next(agent_ws, "typing")
            assert typing["from"] == "customer"
            # Sent over the customer's socket on A: stored, acknowledged there, delivered live to the agent on B.
            sent = {"type": "send", "conversation_id": conv["id"], "client_id": "c-sock-1", "body": "能加急吗？"}
            await customer_ws.send(json.dumps(sent))
            ack = await _next(customer_ws, "ack")
            assert ack["created"] is True and ack["message"]["body"] == "能加急吗？"
            assert (await _next(agent_ws, "message"))["message"]["id"] == ack["message"]["id"]
            reply = await http.post(
                f"{b.url}/api/v1/conversations/{conv['id']}/messages",
                json={"body": "已发货，预计明天送达"},
                headers=staff_headers,
            )
            assert reply.status_code == 201
            seen = await _next(customer_ws, "message", sender="agent")
            assert seen["message"]["body"] == "已发货，预计明天送达"
            last_seen = seen["message"]["seq"]

            # Process A dies without warning; the agent keeps writing meanwhile.
            a.kill()
            for text_ in ["第一条（断线期间）", "第二条（断线期间）"]:
                r = await http.post(
                    f"{b.url}/api/v1/conversations/{conv['id']}/messages", json={"body": text_}, headers=staff_headers
                )
                assert r.status_code == 201
            # The customer's resend of an unacknowledged message, with its client id, is stored once.
            for _ in range(2):
                r = await http.post(
                    f"{b.url}{widget}/conversations/{conv['id']}/messages",
                    json={"body": "好的谢谢", "client_id": "c-offline-1"},
                    headers=visitor,
                )
                assert r.status_code in (200, 201)
            # Reconnect to the surviving process: subscribe first, then fetch what was missed.
            fresh = (await http.post(f"{b.url}{widget}/socket-token", headers=visitor)).json()["socket_token"]
            customer_ws2 = await _socket(b.ws_url, fresh)
            missed = (
                await http.get(
                    f"{b.url}{widget}/conversations/{conv['id']}/messages",
                    params={"after_seq": last_seen},
                    headers=visitor,
                )
            ).json()["items"]
            await http.post(
                f"{b.url}/api/v1/conversations/{conv['id']}/messages",
                json={"body": "还有什么可以帮您？"},
                headers=staff_headers,
            )
            live = await _next(customer_ws2, "message", sender="agent")
            # The ack of the socket send may have been lost with process A: resent on B, it is answered, not copied.
            await customer_ws2.send(json.dumps(sent))
            again = await _next(customer_ws2, "ack")
            assert again["created"] is False and again["message"]["id"] == ack["message"]["id"]
            bodies = {m["seq"]: m["body"] for m in [*missed, live["message"]]}
            assert list(bodies.values()) == [
                "第一条（断线期间）",
                "第二条（断线期间）",
                "好的谢谢",
                "还有什么可以帮您？",
            ]
            assert sorted(bodies) == list(range(last_seen + 1, last_seen + 5))
            await customer_ws2.close()
            await agent_ws.close()
            await customer_ws.close()

    run_async(scenario())


def test_deactivation_closes_sockets_on_every_process(cluster: tuple[ServerProcess, ServerProcess, str]) -> None:
    from websockets.exceptions import ConnectionClosed

    a, b, db_url = cluster
    db = Database(db_url)
    tenant_id, slug, _ = make_tenant(db)
    with db.tenant_transaction(tenant_id) as s:
        system = system_actor(tenant_id)
        agent, _ = accounts.do_create_staff(
            s, system, StaffCreate(email=f"leaver@{slug}.example", display_name="离职坐席", role=Role.AGENT)
        )
        _, admin_key = accounts.do_create_api_key(s, system, ApiKeyCreate(name="admin", role=Role.ADMIN))
    db.dispose()
    token = mint(Keyring(SECRET), SocketGrant(tenant_id=tenant_id, kind="staff", staff_id=agent.id))

    async def close_code(ws: ClientConnection) -> int:
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
        except ConnectionClosed as closed:
            assert closed.rcvd is not None
            return int(closed.rcvd.code)

    async def scenario() -> None:
        on_a = await _socket(a.ws_url, token)
        on_b = await _socket(b.ws_url, token)
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.patch(
                f"{a.url}/api/v1/staff/{agent.id}",
                json={"is_active": False},
                headers={"Authorization": f"Bearer {admin_key}"},
            )
            assert response.status_code == 200
        # Both processes close the person's sockets at once (the event crosses through Redis)...
        assert await close_code(on_a) == 4010
        assert await close_code(on_b) == 4010
        # ...and the unexpired token opens no new socket on either.
        for server in (a, b):
            ws = await connect(server.ws_url)
            await ws.send(json.dumps({"type": "auth", "token": token}))
            assert await close_code(ws) == 4001

    run_async(scenario())
