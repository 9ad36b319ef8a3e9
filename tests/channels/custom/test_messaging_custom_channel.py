"""The generic custom channel: a workspace's own system posts its customers' messages with its API key."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from omnidesk.conversations.models import Conversation, Message
from omnidesk.core.db import Database
from omnidesk.customers.models import CustomerIdentity
from omnidesk.security.permissions import Role
from tests.factories import World

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "message__created.json").read_text("utf-8"))


def test_a_message_is_stored_once_in_its_own_channel(client: TestClient, db: Database, world: World) -> None:
    url = "/api/v1/channels/custom/kiosk/messages"
    first = client.post(url, json=FIXTURE, headers=world.headers(Role.ADMIN))
    assert first.status_code == 201, first.text
    again = client.post(url, json=FIXTURE, headers=world.headers(Role.ADMIN))
    assert again.status_code == 200 and again.json()["message"]["id"] == first.json()["message"]["id"]
    follow = {**FIXTURE, "message_id": "kiosk-7f3a-000129", "text": "单号 8823",
              "conversation_id": first.json()["conversation_id"]}  # fmt: skip
    assert client.post(url, json=follow, headers=world.headers(Role.ADMIN)).status_code == 201
    with db.tenant_read(world.tenant_id) as s:
        conversation = s.scalar(select(Conversation).where(Conversation.channel == "custom:kiosk"))
        assert conversation is not None
        bodies = list(
            s.scalars(select(Message.body).where(Message.conversation_id == conversation.id).order_by(Message.seq))
        )
        identity = s.scalar(select(CustomerIdentity).where(CustomerIdentity.kind == "external"))
    assert bodies == ["自助机打印失败，卡已经扣款了", "单号 8823"]
    assert identity is not None and (identity.value, identity.verified) == ("kiosk:member-88213", False)


def test_the_key_must_write_conversations_and_stay_in_its_workspace(
    client: TestClient, world: World, other_world: World
) -> None:
    url = "/api/v1/channels/custom/kiosk/messages"
    assert client.post(url, json=FIXTURE).status_code == 401
    assert client.post(url, json=FIXTURE, headers=world.headers(Role.AUDITOR)).status_code == 403
    stranger = {**FIXTURE, "conversation_id": str(world.conversation.id)}
    assert client.post(url, json=stranger, headers=other_world.headers(Role.ADMIN)).status_code == 404
    assert client.post("/api/v1/channels/custom/Bad Name/messages", json=FIXTURE,
                       headers=world.headers()).status_code == 422  # fmt: skip
