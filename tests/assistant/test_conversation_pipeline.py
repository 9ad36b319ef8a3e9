"""The assistant inside a live conversation: it answers, and when it hands over the agent gets the summary."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from omnidesk.bot import pipeline
from omnidesk.core.db import Database
from tests.assistant.conftest import BotWorld


def _say(client: TestClient, bw: BotWorld, conversation_id: str, text: str) -> str:
    response = client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"body": text, "sender_type": "customer"},
        headers=bw.world.headers(),
    )
    assert response.status_code == 201
    message_id: str = response.json()["id"]
    return message_id


def _messages(client: TestClient, bw: BotWorld, conversation_id: str) -> list[dict[str, Any]]:
    url = f"/api/v1/conversations/{conversation_id}/messages"
    items: list[dict[str, Any]] = client.get(url, headers=bw.world.headers()).json()["items"]
    return items


def test_bot_answers_then_hands_over_with_a_summary(
    app: FastAPI, client: TestClient, db: Database, bot_world: BotWorld
) -> None:
    import uuid

    conv = str(bot_world.world.conversation.id)
    tenant = bot_world.world.tenant_id
    state = app.state
    with db.tenant_transaction(tenant) as s:
        pipeline.hold(s, tenant, uuid.UUID(conv))

    def turn(text: str) -> Any:
        message_id = _say(client, bot_world, conv, text)
        return pipeline.respond(
            db, tenant, uuid.UUID(conv), uuid.UUID(message_id), brains=state.brains, assistant=state.assistant
        )

    answered = turn("我的快递 SF1234567890 到哪了")
    assert answered.kind == "flow"
    again = pipeline.respond(db, tenant, uuid.UUID(conv), uuid.UUID(_messages(client, bot_world, conv)[-2]["id"]),
                             brains=state.brains, assistant=state.assistant)  # fmt: skip
    assert again is None  # the same customer message is never answered twice
    handed = turn("我要投诉，快递员态度太差了！")
    assert handed.kind == "hand_over"
    messages = _messages(client, bot_world, conv)
    bot_public = [m for m in messages if m["sender_type"] == "bot" and not m["internal"]]
    assert "运输中" in bot_public[0]["body"]
    assert bot_public[-1]["payload"]["bot"]["kind"] == "hand_over"
    note = next(m for m in messages if m["internal"] and m["sender_type"] == "bot")
    assert "complaint" in note["body"] and "tracking_number=SF1234567890" in note["body"]
    conversation = client.get(f"/api/v1/conversations/{conv}", headers=bot_world.world.headers()).json()
    assert conversation["priority"] == "high" and "bot_handover" in conversation["tags"]
    # Once people hold the conversation, the bot stays quiet.
    assert turn("在吗？") is None
