"""The inbox list and offers as the agent sees them: who, what, unread, waiting, reply target, sorting; an offer
says who is asking and what before it is accepted."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from omnidesk.conversations.inbox import reply_due
from omnidesk.core.db import Database
from omnidesk.events.presence import MemoryPresence
from omnidesk.routing import actions as routing
from omnidesk.routing.strategy import Presence
from omnidesk.security.permissions import Role
from tests.factories import World, session_csrf, sign_in, start_visitor, visitor_conversation


def test_reply_target_by_priority() -> None:
    since = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert reply_due(None, "normal", since) is None
    assert reply_due(since, "normal", since + timedelta(minutes=1)).state == "ok"  # type: ignore[union-attr]
    assert reply_due(since, "normal", since + timedelta(minutes=4)).state == "soon"  # type: ignore[union-attr]
    assert reply_due(since, "normal", since + timedelta(minutes=6)).state == "breached"  # type: ignore[union-attr]
    assert reply_due(since, "urgent", since + timedelta(minutes=2)).state == "breached"  # type: ignore[union-attr]


def _rows(html: str) -> list[str]:
    return re.findall(r'<li class="[^"]*" data-id="([0-9a-f-]{36})"', html)


def test_list_shows_who_what_unread_and_sorts(client: TestClient, world: World) -> None:
    first = visitor_conversation(client, start_visitor(client, world.slug), "第一个访客：发票怎么开？")
    second = visitor_conversation(client, start_visitor(client, world.slug), "第二个访客：退款多久到账")
    sign_in(client, world, Role.AGENT)
    html = client.get("/inbox/list", params={"view": "all"}).text
    assert "访客 · web" not in html
    assert re.search(r'<span class="who">访客 [0-9A-F]{4}</span>', html)
    assert "第二个访客：退款多久到账" in html and 'data-test="unread"' in html
    assert html.index(second["id"]) < html.index(first["id"])  # newest first
    waiting = _rows(client.get("/inbox/list", params={"view": "all", "sort": "waiting"}).text)
    assert waiting.index(str(world.conversation.id)) < waiting.index(first["id"]) < waiting.index(second["id"])

    # the agent reads the second conversation: its unread count goes, the total in the list drops
    before = int(re.search(r'data-unread-total="(\d+)"', html).group(1))  # type: ignore[union-attr]
    headers = {"X-CSRF-Token": session_csrf(client)}
    receipt = {"delivered_seq": 1, "read_seq": 1}
    url = f"/api/v1/conversations/{second['id']}/receipts"
    assert client.post(url, json=receipt, headers=headers).status_code == 204
    after_html = client.get("/inbox/list", params={"view": "all"}).text
    after = int(re.search(r'data-unread-total="(\d+)"', after_html).group(1))  # type: ignore[union-attr]
    assert after == before - 1
    row = after_html[after_html.index(second["id"]) :].split("</li>")[0]
    assert 'data-unread="0"' in row


def test_offer_says_who_and_what_before_accepting(client: TestClient, world: World, db: Database) -> None:
    presence = MemoryPresence()
    conversation = visitor_conversation(client, start_visitor(client, world.slug), "我要改收货地址，订单还没发货")
    agent = world.staff[Role.AGENT].id
    presence.touch(world.tenant_id, agent, "conn-agent")
    with db.tenant_transaction(world.tenant_id) as s:
        routing.set_presence(s, world.actor(Role.AGENT), Presence.ONLINE)
    with db.tenant_transaction(world.tenant_id) as s:
        offered = routing.route_waiting(s, connected=presence.connected(world.tenant_id))
    assert uuid.UUID(conversation["id"]) in [e.conversation_id for e in offered]
    sign_in(client, world, Role.AGENT)
    html = client.get("/inbox/offers").text
    assert f'data-id="{conversation["id"]}"' in html
    assert re.search(r"访客 [0-9A-F]{4}：“我要改收货地址，订单还没发货”", html)
    page = client.get("/inbox").text
    assert "我要改收货地址" in page and 'id="attention-toggle"' in page
