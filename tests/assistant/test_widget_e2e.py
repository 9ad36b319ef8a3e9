"""End to end through the widget's API: Chinese and English customers talk to the assistant as they would on a
shop's website. Each gets an FAQ answer, a parcel status from the tenant's own system, a clarification with
buttons, and a hand-over that lands in the agent inbox with its summary; an out-of-scope question is declined."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from omnidesk.security.permissions import Role
from tests.assistant.conftest import BotWorld
from tests.factories import session_csrf, sign_in, start_visitor, visitor_conversation


def _say(client: TestClient, visitor: dict[str, Any], conversation_id: str, text: str) -> dict[str, Any]:
    """Send as the visitor and return the assistant's reply (it answers in the background, after the ack)."""
    url = f"{visitor['base']}/conversations/{conversation_id}/messages"
    sent = client.post(url, json={"body": text, "client_id": f"c-{abs(hash(text))}"}, headers=visitor["headers"])
    assert sent.status_code == 201, sent.text
    return _last_bot(client, visitor, conversation_id)


def _last_bot(client: TestClient, visitor: dict[str, Any], conversation_id: str) -> dict[str, Any]:
    url = f"{visitor['base']}/conversations/{conversation_id}/messages"
    items = client.get(url, headers=visitor["headers"]).json()["items"]
    assert all(not m.get("internal") for m in items), "a visitor never sees internal notes"
    bot = [m for m in items if m["sender_type"] == "bot"]
    assert bot, items
    reply: dict[str, Any] = bot[-1]
    return reply


@pytest.mark.parametrize(
    ("language", "faq", "faq_words", "parcel", "parcel_words", "vague", "oos", "decline_words", "human"),
    [
        ("zh-CN", "我想退货，怎么操作？", "7 天", "我的快递 SF1234567890 到哪了", "运输中", "退", "给我讲个笑话吧", "无法回答", "转人工"),
        ("en", "how long does a refund take", "1-3 business days", "where is my parcel SF1234567890", "in transit",
         "returns and refunds", "tell me a joke", "can't answer", "I want to talk to a real person"),
    ],
)  # fmt: skip
def test_customer_journey_through_the_widget(
    client: TestClient, bot_world: BotWorld, language: str, faq: str, faq_words: str, parcel: str,
    parcel_words: str, vague: str, oos: str, decline_words: str, human: str,
) -> None:  # fmt: skip
    world = bot_world.world
    sign_in(client, world, Role.AGENT)
    csrf = session_csrf(client)
    online = client.put("/api/v1/routing/presence", json={"status": "online"}, headers={"X-CSRF-Token": csrf})
    assert online.status_code == 200, online.text

    visitor = start_visitor(client, world.slug)
    conv = visitor_conversation(client, visitor, faq)
    answer = _last_bot(client, visitor, conv["id"])
    assert faq_words in answer["body"] and answer["payload"]["bot"]["knowledge_id"], answer

    status = _say(client, visitor, conv["id"], parcel)
    assert parcel_words in status["body"], status

    declined = _say(client, visitor, conv["id"], oos)
    assert declined["payload"]["bot"]["kind"] == "decline" and decline_words in declined["body"]
    assert declined["payload"]["bot"]["knowledge_id"] is None

    # A confident answer resets the miss counter (a second miss in a row would hand over).
    again = _say(client, visitor, conv["id"], faq + " ")
    assert again["payload"]["bot"]["kind"] == "answer"
    clarify = _say(client, visitor, conv["id"], vague)
    assert clarify["payload"]["bot"]["kind"] == "clarify", clarify
    assert clarify["kind"] == "quick_replies" and clarify["payload"]["buttons"]
    picked = _say(client, visitor, conv["id"], clarify["payload"]["buttons"][0]["value"])
    assert picked["payload"]["bot"]["kind"] == "answer"

    handed = _say(client, visitor, conv["id"], human)
    assert handed["payload"]["bot"]["kind"] == "hand_over"
    # The customer is told what happens next and how long it may take.
    assert ("预计等待" in handed["body"]) if language == "zh-CN" else ("expected wait" in handed["body"])

    # The agent finds it in the unassigned inbox, with the bot's summary as an internal note.
    inbox = client.get("/api/v1/conversations", params={"assignee": "none"}).json()["items"]
    assert conv["id"] in [c["id"] for c in inbox]
    messages = client.get(f"/api/v1/conversations/{conv['id']}/messages").json()["items"]
    note = next(m for m in messages if m["internal"] and m["sender_type"] == "bot")
    assert "requested_human" in note["body"] and "tracking_number=SF1234567890" in note["body"]
    # After the hand-over the assistant stays quiet.
    url = f"{visitor['base']}/conversations/{conv['id']}/messages"
    client.post(url, json={"body": "在吗", "client_id": "c-after"}, headers=visitor["headers"])
    assert _last_bot(client, visitor, conv["id"])["id"] == handed["id"]


def test_hand_over_with_nobody_online_becomes_a_ticket(client: TestClient, bot_world: BotWorld) -> None:
    world = bot_world.world
    visitor = start_visitor(client, world.slug)
    conv = visitor_conversation(client, visitor, "我要投诉，包裹被摔坏了！")
    handed = _last_bot(client, visitor, conv["id"])
    assert handed["payload"]["bot"]["kind"] == "hand_over" and "工单" in handed["body"]
    tickets = client.get("/api/v1/tickets", headers=world.headers(Role.SUPERVISOR)).json()["items"]
    ticket = next(t for t in tickets if t.get("conversation_id") == conv["id"])
    assert ticket["type_key"] == "complaint" and ticket["priority"] in ("high", "urgent")
