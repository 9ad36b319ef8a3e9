"""The event contract of conversations: a client holding yesterday's state plus the events it receives holds what
a fresh fetch returns — for an agent's workspace and for the customer's widget.

The fields the events keep in step are listed in ``CARRIED``; the rest (``version``, ``updated_at``,
``last_message_at``) a client refetches when it needs them.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from omnidesk.conversations import actions
from omnidesk.conversations.models import Conversation
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.events.outbox import tenant_channel
from omnidesk.realtime.filters import for_visitor, staff_may_see
from omnidesk.realtime.tokens import SocketGrant
from omnidesk.security.permissions import Role
from tests.conftest import run_async
from tests.factories import World, start_visitor, visitor_conversation

CARRIED = ("status", "priority", "assignee_id", "team_id", "tags", "subject", "snoozed_until", "last_seq")
API = "/api/v1"


def _staff_view(client: TestClient, world: World, conversation_id: str) -> dict[str, Any]:
    conversation = client.get(f"{API}/conversations/{conversation_id}", headers=world.headers()).json()
    messages = client.get(f"{API}/conversations/{conversation_id}/messages", headers=world.headers()).json()
    state = {k: conversation[k] for k in CARRIED}
    state["snoozed_until"] = _instant(state["snoozed_until"])
    state["messages"] = {m["seq"]: m for m in messages["items"]}
    return state


def _visitor_view(client: TestClient, visitor: dict[str, Any], conversation_id: str) -> dict[str, Any]:
    listed = client.get(f"{visitor['base']}/conversations", headers=visitor["headers"]).json()
    (conversation,) = [c for c in listed if c["id"] == conversation_id]
    url = f"{visitor['base']}/conversations/{conversation_id}/messages"
    messages = client.get(url, headers=visitor["headers"]).json()
    return {"status": conversation["status"], "messages": {m["seq"]: m for m in messages["items"]}}


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _apply(state: dict[str, Any], event: dict[str, Any]) -> None:
    """What a client does with an event: nothing but the event's own payload."""
    if event["type"] == "message" and event["op"] == "add":
        message = event["message"]
        state["messages"][message["seq"]] = message
        if "last_seq" in state:
            state["last_seq"] = max(state["last_seq"], message["seq"])
    elif event["type"] == "conversation" and event["op"] == "update":
        for name, (_, new) in (event.get("changes") or {}).items():
            if name in state:
                state[name] = _instant(new) if name == "snoozed_until" else new
        state["status"] = event["status"]


def test_yesterdays_state_plus_the_events_equals_a_fresh_fetch(client: TestClient, world: World, db: Database) -> None:
    visitor = start_visitor(client, world.slug)
    conversation_id = visitor_conversation(client, visitor, "我的订单还没到")["id"]
    staff_before = _staff_view(client, world, conversation_id)
    visitor_before = _visitor_view(client, visitor, conversation_id)
    customer_id = uuid.UUID(client.get(f"{API}/conversations/{conversation_id}", headers=world.headers()).json()[
        "customer_id"])  # fmt: skip
    agent = world.staff[Role.AGENT]
    h = world.headers()
    url = f"{API}/conversations/{conversation_id}"
    widget_url = f"{visitor['base']}/conversations/{conversation_id}/messages"
    bus = db.bus
    assert bus is not None  # the run's bus: in process, or Redis with OMNIDESK_TEST_REDIS_URL

    def changes() -> None:
        steps = [
            client.post(f"{url}/messages", json={"body": "您好，我来查一下"}, headers=h),
            client.post(f"{url}/notes", json={"body": "物流单号 SF123"}, headers=h),
            client.patch(url, json={"assignee_id": str(agent.id), "priority": "high", "tags": ["物流"]}, headers=h),
            client.patch(url, json={"status": "resolved"}, headers=h),
            client.post(widget_url, json={"body": "还是没收到", "client_id": "c-again"}, headers=visitor["headers"]),
            client.patch(url, json={"status": "snoozed", "snoozed_until": "2099-01-01T09:00:00+08:00"}, headers=h),
            client.post(widget_url, json={"body": "在吗？", "client_id": "c-wake"}, headers=visitor["headers"]),
            client.patch(url, json={"subject": "快递延误", "team_id": str(world.team_id)}, headers=h),
        ]
        assert all(r.status_code < 300 for r in steps), [r.text for r in steps if r.status_code >= 300]
        with db.tenant_transaction(world.tenant_id) as s:
            conversation = s.get(Conversation, uuid.UUID(conversation_id))
            assert conversation is not None
            actions.do_escalate(
                s, system_actor(world.tenant_id), conversation, priority="urgent", add_tags=["bot_handover"]
            )

    async def scenario() -> list[dict[str, Any]]:
        received: list[dict[str, Any]] = []
        async with bus.subscribe(tenant_channel(world.tenant_id)) as events:
            await asyncio.to_thread(changes)
            while True:
                try:
                    received.append(await asyncio.wait_for(anext(events), 0.3))
                except TimeoutError:
                    return received

    events = run_async(scenario())
    # What the agent's and the visitor's sockets let through (realtime.filters), applied in order.
    staff_grant = SocketGrant(tenant_id=world.tenant_id, kind="staff", staff_id=agent.id, read_all=True)
    visitor_grant = SocketGrant(tenant_id=world.tenant_id, kind="visitor", customer_id=customer_id)
    staff_state, visitor_state = copy.deepcopy(staff_before), copy.deepcopy(visitor_before)
    for event in events:
        if event.get("conversation_id") != conversation_id:
            continue
        if staff_may_see(staff_grant, event):
            _apply(staff_state, event)
        projected = for_visitor(visitor_grant, event)
        if projected is not None:
            _apply(visitor_state, projected)

    assert staff_state == _staff_view(client, world, conversation_id)
    assert visitor_state == _visitor_view(client, visitor, conversation_id)
    # The visitor never learns of the note; the agent's view has every message, the note included.
    assert not any(m["internal"] for m in visitor_state["messages"].values())
    assert any(m["internal"] for m in staff_state["messages"].values())
