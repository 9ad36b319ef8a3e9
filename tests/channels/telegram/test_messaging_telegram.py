"""Telegram Bot API: updates as Telegram posts them (recorded payloads, secret token header), and sendMessage as the
fake Bot API receives it."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from omnidesk.channels import delivery
from omnidesk.channels.models import MessageDelivery
from omnidesk.channels.providers import actions
from omnidesk.conversations import actions as conversation_actions
from omnidesk.conversations.models import Conversation, Message
from omnidesk.conversations.schemas import SenderType
from omnidesk.core.db import Database
from omnidesk.customers.models import CustomerIdentity
from omnidesk.security.keys import Purpose, for_purpose
from tests.channels.messaging_support import FakeProviders, load
from tests.factories import World

BOT_TOKEN = "7000000001:AAH-test-bot-token"
SECRET = "telegram-secret-token-for-tests"


def configure(db: Database, world: World, providers: FakeProviders, msg_app: FastAPI) -> None:
    keys = for_purpose(msg_app.state.settings, Purpose.TENANT_SECRETS)
    with db.tenant_transaction(world.tenant_id) as s:
        actions.configure(s, world.actor(), keys, "telegram", config={"api_base": f"{providers.url}/telegram"},
                          secrets={"bot_token": BOT_TOKEN, "secret_token": SECRET})  # fmt: skip


def post(client: TestClient, world: World, update: dict[str, Any], secret: str | None = SECRET) -> Any:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
    return client.post(f"/api/v1/channels/telegram/{world.slug}/webhook", json=update, headers=headers)


def messages_of(db: Database, world: World) -> list[Message]:
    with db.tenant_read(world.tenant_id) as s:
        ids = select(Conversation.id).where(Conversation.channel == "telegram")
        return list(s.scalars(select(Message).where(Message.conversation_id.in_(ids)).order_by(Message.seq)))


def test_without_the_secret_token_nothing_is_stored(
    msg_client: TestClient, msg_app: FastAPI, db: Database, world: World, providers: FakeProviders
) -> None:
    configure(db, world, providers, msg_app)
    assert post(msg_client, world, load("telegram", "message__text.json"), secret=None).status_code == 401
    assert post(msg_client, world, load("telegram", "message__text.json"), secret="guess").status_code == 401
    assert messages_of(db, world) == []


def test_an_update_is_stored_once_and_a_button_press_joins_the_conversation(
    msg_client: TestClient, msg_app: FastAPI, db: Database, world: World, providers: FakeProviders
) -> None:
    configure(db, world, providers, msg_app)
    update = load("telegram", "message__text.json")
    assert post(msg_client, world, update).status_code == 200
    assert post(msg_client, world, update).status_code == 200  # Telegram retries until it gets a 2xx
    assert post(msg_client, world, load("telegram", "callback_query__button.json")).status_code == 200
    assert post(msg_client, world, load("telegram", "message__group.json")).status_code == 200  # not a customer chat
    first, pressed = messages_of(db, world)
    assert first.body == "你好，我的订单 SO-1042 什么时候发货？"
    assert pressed.conversation_id == first.conversation_id and pressed.payload["reply"]["value"] == "order:SO-1042"
    with db.tenant_read(world.tenant_id) as s:
        identity = s.scalar(select(CustomerIdentity).where(CustomerIdentity.kind == "telegram"))
    assert identity is not None and (identity.value, identity.verified) == ("5093461287", True)


def test_a_reply_reaches_send_message_with_its_buttons_and_is_retried_after_a_429(
    msg_client: TestClient, msg_app: FastAPI, db: Database, world: World, providers: FakeProviders
) -> None:
    configure(db, world, providers, msg_app)
    post(msg_client, world, load("telegram", "message__text.json"))
    (customer_message,) = messages_of(db, world)
    providers.answers.append(429)  # Telegram's flood control: retried by the job queue
    with db.tenant_transaction(world.tenant_id) as s:
        conversation = s.get_one(Conversation, customer_message.conversation_id)
        buttons = [{"label": "Track it", "value": "track"}]
        stored = conversation_actions.do_post_message(s, world.actor(), conversation, body="明天发货。",
                                                      sender_type=SenderType.AGENT, sender_id=None,
                                                      payload={"buttons": buttons})  # fmt: skip
    with db.tenant_read(world.tenant_id) as s:
        assert s.get_one(MessageDelivery, stored.id).state == "queued"
    assert delivery.attempt(msg_app.state.jobs.ctx, world.tenant_id, stored.id) == "sent"
    call = providers.sent(f"/bot{BOT_TOKEN}/sendMessage")[-1]
    assert call.json() == {"chat_id": 5093461287, "text": "明天发货。",
                           "reply_markup": {"inline_keyboard": [[{"text": "Track it", "callback_data": "track"}]]}}  # fmt: skip
    with db.tenant_read(world.tenant_id) as s:
        row = s.get_one(MessageDelivery, stored.id)
    assert row.channel_message_id and row.channel_message_id.startswith("5093461287:")
