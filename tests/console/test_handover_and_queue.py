"""Issue "The staff console", bugs 2 and 4: what a customer is told when the assistant hands over, and while
they wait in line: one message in their language, no internal codes, readable ticket titles, and one honest
source for the place in line and the wait."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi.testclient import TestClient

from omnidesk.core.db import Database
from omnidesk.routing import actions as routing
from omnidesk.routing.strategy import Presence
from omnidesk.security.permissions import Role
from tests.assistant.conftest import BotWorld
from tests.factories import World, start_visitor, visitor_conversation

CHINESE = re.compile(r"[\u4e00-\u9fff]")
CODES = re.compile(r"requested_human|negative_emotion|complaint|flow_failed|[a-z]+_[a-z]+:")


def _public_bot(client: TestClient, visitor: dict[str, Any], conversation_id: str) -> list[str]:
    page = client.get(f"{visitor['base']}/conversations/{conversation_id}/messages", headers=visitor["headers"])
    assert page.status_code == 200, page.text
    return [m["body"] for m in page.json()["items"] if m["sender_type"] == "bot"]


def _say(client: TestClient, visitor: dict[str, Any], conversation_id: str, text: str) -> None:
    response = client.post(
        f"{visitor['base']}/conversations/{conversation_id}/messages",
        json={"body": text, "client_id": f"c-{uuid.uuid4().hex[:12]}"},
        headers=visitor["headers"],
    )
    assert response.status_code in (200, 201), response.text


def test_english_customer_with_no_one_online_gets_one_english_message_and_a_readable_ticket(
    client: TestClient, bot_world: BotWorld
) -> None:
    world = bot_world.world
    visitor = start_visitor(client, world.slug, language="en")
    conv = visitor_conversation(client, visitor, "My blender arrived with a cracked jug")["id"]
    _say(client, visitor, conv, "I want to talk to a real person")
    said = _public_bot(client, visitor, conv)[-1]
    assert re.search(r"ticket #\d+", said), said
    assert not CHINESE.search(said) and not CODES.search(said), said
    assert "in line" not in said  # no queue talk beside "no one is available"
    tickets = client.get("/api/v1/tickets", headers=world.headers()).json()["items"]
    ours = [t for t in tickets if t.get("conversation_id") == conv]
    assert ours, tickets
    assert ours[0]["subject"] == "My blender arrived with a cracked jug"
    # Waiting afterwards, the widget tells no made-up wait while nobody is online.
    status = client.get(
        f"{visitor['base']}/conversations/{conv}/queue", headers={**visitor["headers"], "Accept-Language": "en"}
    ).json()
    if status["waiting"]:
        assert status["expected_wait_seconds"] is None and "No agent is online" in status["message"]


def test_hand_over_to_the_queue_says_the_same_place_and_wait_as_the_widget(
    client: TestClient, db: Database, bot_world: BotWorld
) -> None:
    world = bot_world.world
    with db.tenant_transaction(world.tenant_id) as s:
        routing.set_presence(s, world.actor(Role.AGENT), Presence.ONLINE)
    first = start_visitor(client, world.slug, language="zh-CN")
    first_conv = visitor_conversation(client, first, "你好，我想问一下发票")["id"]
    _say(client, first, first_conv, "转人工")
    visitor = start_visitor(client, world.slug, language="zh-CN")
    conv = visitor_conversation(client, visitor, "我买的电饭煲坏了")["id"]
    _say(client, visitor, conv, "转人工")
    said = _public_bot(client, visitor, conv)[-1]
    status = client.get(
        f"{visitor['base']}/conversations/{conv}/queue", headers={**visitor["headers"], "Accept-Language": "zh-CN"}
    ).json()
    assert status["waiting"] and status["position"] == 2 and status["ahead"] == 1, status
    assert status["message"] in said, (status["message"], said)
    assert "您前面还有 1 位客户" in said and not CODES.search(said)
    assert len([b for b in _public_bot(client, visitor, conv) if "工单" in b]) == 0


def test_no_estimate_while_no_agent_is_online(client: TestClient, world: World) -> None:
    visitor = start_visitor(client, world.slug, language="en")
    conv = visitor_conversation(client, visitor, "Where is my order?")["id"]
    status = client.get(
        f"{visitor['base']}/conversations/{conv}/queue", headers={**visitor["headers"], "Accept-Language": "en"}
    ).json()
    assert status["waiting"] and status["expected_wait_seconds"] is None
    assert status["message"].startswith("You are next in line.") and "No agent is online" in status["message"]


def test_queue_sentence_counts_and_units() -> None:
    from omnidesk.routing.service import queue_sentence

    assert queue_sentence(1, 30, 1, "en") == "You are next in line. The expected wait is under a minute."
    assert queue_sentence(2, 60, 1, "en") == "There is 1 customer ahead of you. The expected wait is about 1 minute."
    assert queue_sentence(3, 300, 2, "en").endswith(
        "There are 2 customers ahead of you. The expected wait is about 5 minutes."[-45:]
    )
    assert "about 1 minutes" not in queue_sentence(2, 70, 1, "en")
    assert queue_sentence(3, 300, 2, "zh-CN") == "您前面还有 2 位客户。预计等待约 5 分钟。"
    assert "无法估计" in queue_sentence(1, None, 0, "zh-CN")
