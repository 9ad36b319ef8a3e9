"""WhatsApp Cloud API: the webhook as Meta calls it (signed recorded payloads), and our sends as the fake Graph
API receives them."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from omnidesk.channels import delivery
from omnidesk.channels.models import MessageDelivery
from omnidesk.channels.providers import actions
from omnidesk.channels.providers.models import ProviderChannel
from omnidesk.channels.widget.models import Attachment
from omnidesk.conversations import actions as conversation_actions
from omnidesk.conversations.models import Conversation, Message
from omnidesk.conversations.schemas import SenderType
from omnidesk.core.db import Database, utcnow
from omnidesk.customers.models import CustomerIdentity
from omnidesk.security.keys import Purpose, for_purpose
from tests.channels.messaging_support import PNG, TOKEN, FakeProviders, load
from tests.factories import World

APP_SECRET = "whatsapp-app-secret-for-tests"
WA_ID = "16505551234"


def configure(db: Database, world: World, providers: FakeProviders, settings: Any) -> None:
    keys = for_purpose(settings, Purpose.TENANT_SECRETS)
    with db.tenant_transaction(world.tenant_id) as s:
        actions.configure(
            s,
            world.actor(),
            keys,
            "whatsapp",
            config={"phone_number_id": "106540352242922", "api_base": f"{providers.url}/graph/v21.0"},
            secrets={"app_secret": APP_SECRET, "access_token": TOKEN, "verify_token": "verify-me-please"},
        )


def just_now(payload: dict[str, Any]) -> dict[str, Any]:
    """A recorded payload as if the customer wrote a moment ago (the 24-hour window counts from their message)."""
    for entry in payload["entry"]:
        for change in entry["changes"]:
            for message in change["value"].get("messages", []):
                message["timestamp"] = str(int(time.time()))
    return payload


def post(client: TestClient, world: World, payload: dict[str, Any], secret: str = APP_SECRET) -> Any:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    signature = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return client.post(
        f"/api/v1/channels/whatsapp/{world.slug}/webhook",
        content=raw,
        headers={"X-Hub-Signature-256": signature, "Content-Type": "application/json"},
    )


def messages_of(db: Database, world: World) -> list[Message]:
    with db.tenant_read(world.tenant_id) as s:
        conversation_ids = select(Conversation.id).where(Conversation.channel == "whatsapp")
        return list(s.scalars(select(Message).where(Message.conversation_id.in_(conversation_ids))))


def test_handshake_echoes_the_challenge_only_for_the_configured_token(
    msg_client: TestClient, msg_app: FastAPI, db: Database, world: World, providers: FakeProviders
) -> None:
    configure(db, world, providers, msg_app.state.settings)
    url = f"/api/v1/channels/whatsapp/{world.slug}/webhook"
    ok = msg_client.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "verify-me-please",
                                     "hub.challenge": "1158201444"})  # fmt: skip
    assert (ok.status_code, ok.text) == (200, "1158201444")
    bad = msg_client.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"})
    assert bad.status_code == 403
    assert msg_client.get(f"/api/v1/channels/whatsapp/nobody-{uuid.uuid4().hex[:6]}/webhook").status_code == 404


def test_a_bad_signature_is_refused_and_nothing_is_stored(
    msg_client: TestClient, msg_app: FastAPI, db: Database, world: World, providers: FakeProviders
) -> None:
    configure(db, world, providers, msg_app.state.settings)
    answer = post(msg_client, world, load("whatsapp", "message__text.json"), secret="not-the-app-secret")
    assert answer.status_code == 401
    unsigned = msg_client.post(f"/api/v1/channels/whatsapp/{world.slug}/webhook", json={"entry": []})
    assert unsigned.status_code == 401
    assert messages_of(db, world) == []


def test_a_text_message_is_stored_once_from_a_verified_whatsapp_sender(
    msg_client: TestClient, msg_app: FastAPI, db: Database, world: World, providers: FakeProviders
) -> None:
    configure(db, world, providers, msg_app.state.settings)
    payload = load("whatsapp", "message__text.json")
    assert post(msg_client, world, payload).status_code == 200
    assert post(msg_client, world, payload).status_code == 200  # Meta redelivers until it gets a 200
    (message,) = messages_of(db, world)
    assert message.body == "Does it come in another color?"
    with db.tenant_read(world.tenant_id) as s:
        identity = s.scalar(select(CustomerIdentity).where(CustomerIdentity.kind == "whatsapp"))
        channel = s.scalar(select(ProviderChannel))
    assert identity is not None and (identity.value, identity.verified) == (WA_ID, True)
    assert channel is not None and channel.last_received_at is not None


def test_an_image_is_fetched_through_the_outbound_policy_into_the_attachment_store(
    msg_client: TestClient, msg_app: FastAPI, db: Database, world: World, providers: FakeProviders
) -> None:
    configure(db, world, providers, msg_app.state.settings)
    assert post(msg_client, world, load("whatsapp", "message__image.json")).status_code == 200
    (message,) = messages_of(db, world)
    assert message.body == "The box arrived broken"
    attachment = message.payload["attachment"]
    assert attachment["content_type"] == "image/png" and attachment["id"]
    with db.tenant_read(world.tenant_id) as s:
        row = s.get(Attachment, uuid.UUID(attachment["id"]))
    assert row is not None and row.size == len(PNG)
    assert msg_app.state.blobs.get(row.storage_key) == PNG
    fetched = [c.path for c in providers.calls if c.method == "GET"]
    assert fetched == ["/graph/v21.0/media-1003383421387256", "/graph/media/media-1003383421387256"]


def reply(client: TestClient, db: Database, world: World, text: str, **payload: Any) -> uuid.UUID:
    """An agent answers in the customer's WhatsApp conversation through the API; the outbound writer queues its
    delivery, which the job queue runs at once (tests run jobs in the committing thread)."""
    conversation_id = messages_of(db, world)[0].conversation_id
    if payload:  # channel options travel in the stored message's payload
        with db.tenant_transaction(world.tenant_id) as s:
            conversation = s.get_one(Conversation, conversation_id)
            stored = conversation_actions.do_post_message(s, world.actor(), conversation, body=text,
                                                          sender_type=SenderType.AGENT, sender_id=None,
                                                          payload=payload)  # fmt: skip
            return stored.id
    answer = client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"body": text},
                         headers=world.headers())  # fmt: skip
    assert answer.status_code == 201, answer.text
    return uuid.UUID(answer.json()["id"])


def delivery_of(db: Database, world: World, message_id: uuid.UUID) -> MessageDelivery:
    with db.tenant_read(world.tenant_id) as s:
        row = s.get(MessageDelivery, message_id)
    assert row is not None
    return row


def test_a_reply_reaches_the_graph_api_and_status_callbacks_follow_it(
    msg_client: TestClient, msg_app: FastAPI, db: Database, world: World, providers: FakeProviders
) -> None:
    configure(db, world, providers, msg_app.state.settings)
    post(msg_client, world, just_now(load("whatsapp", "message__text.json")))
    providers.answers.append(503)  # the first attempt meets an outage: the job queue retries it after a back-off
    message_id = reply(msg_client, db, world, "Yes, in blue and green.")
    first = delivery_of(db, world, message_id)
    assert (first.state, first.attempts) == ("queued", 1) and "503" in first.error
    assert delivery.attempt(msg_app.state.jobs.ctx, world.tenant_id, message_id) == "sent"  # the retry
    sent = providers.sent("/graph/v21.0/106540352242922/messages")[-1]
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.json() == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": WA_ID,
                           "type": "text", "text": {"preview_url": False, "body": "Yes, in blue and green."}}  # fmt: skip
    wamid = delivery_of(db, world, message_id).channel_message_id
    assert wamid and wamid.startswith("wamid.OUT")
    assert delivery.attempt(msg_app.state.jobs.ctx, world.tenant_id, message_id) == "sent"  # a repeat sends nothing
    assert len(providers.sent("/messages")) == 2

    def status(name: str) -> str:
        payload = json.loads(json.dumps(load("whatsapp", name)).replace("WAMID", wamid or ""))
        assert post(msg_client, world, payload).status_code == 200
        return delivery_of(db, world, message_id).state

    assert status("status__delivered.json") == "delivered"
    assert status("status__read.json") == "read"
    assert status("status__delivered.json") == "read"  # a late "delivered" does not hide "read"
    with db.tenant_read(world.tenant_id) as s:
        channel = s.scalar(select(ProviderChannel))
    assert channel is not None and channel.last_sent_at is not None and "503" in channel.last_error


def test_a_failed_status_tells_the_agent_why(
    msg_client: TestClient, msg_app: FastAPI, db: Database, world: World, providers: FakeProviders
) -> None:
    configure(db, world, providers, msg_app.state.settings)
    post(msg_client, world, just_now(load("whatsapp", "message__text.json")))
    message_id = reply(msg_client, db, world, "Here is your tracking number.")
    wamid = delivery_of(db, world, message_id).channel_message_id or ""
    payload = json.loads(json.dumps(load("whatsapp", "status__failed.json")).replace("WAMID", wamid))
    assert post(msg_client, world, payload).status_code == 200
    failed = delivery_of(db, world, message_id)
    assert failed.state == "failed" and "131047" in failed.error and "24 hours" in failed.error


def test_outside_the_24_hour_window_only_a_template_is_sent_and_the_agent_is_told(
    msg_client: TestClient, msg_app: FastAPI, db: Database, world: World, providers: FakeProviders
) -> None:
    configure(db, world, providers, msg_app.state.settings)
    post(msg_client, world, just_now(load("whatsapp", "message__text.json")))
    with db.tenant_transaction(world.tenant_id) as s:
        s.execute(update(Message).values(created_at=utcnow() - timedelta(hours=25)))
    refused = reply(msg_client, db, world, "Are you still there?")
    row = delivery_of(db, world, refused)
    assert row.state == "failed" and "24-hour" in row.error
    assert providers.sent("/messages") == []
    notes = [m for m in messages_of(db, world) if m.internal]
    assert len(notes) == 1 and "24" in notes[0].body

    template = {"name": "order_update", "language": "en_US"}
    accepted = reply(msg_client, db, world, "Your order has shipped", whatsapp_template=template)
    assert delivery_of(db, world, accepted).state == "sent"
    body = providers.sent("/messages")[-1].json()
    assert body["type"] == "template" and body["template"] == {"name": "order_update", "language": {"code": "en_US"}}
    assert body["to"] == WA_ID


def test_another_workspaces_app_secret_does_not_open_this_webhook(
    msg_client: TestClient, msg_app: FastAPI, db: Database, world: World, other_world: World, providers: FakeProviders
) -> None:
    configure(db, world, providers, msg_app.state.settings)
    keys = for_purpose(msg_app.state.settings, Purpose.TENANT_SECRETS)
    with db.tenant_transaction(other_world.tenant_id) as s:
        actions.configure(s, other_world.actor(), keys, "whatsapp", config={"phone_number_id": "1"},
                          secrets={"app_secret": "the-other-workspace-secret"})  # fmt: skip
    raw = json.dumps(load("whatsapp", "message__text.json")).encode()
    signature = "sha256=" + hmac.new(b"the-other-workspace-secret", raw, hashlib.sha256).hexdigest()
    answer = msg_client.post(f"/api/v1/channels/whatsapp/{world.slug}/webhook", content=raw,
                             headers={"X-Hub-Signature-256": signature})  # fmt: skip
    assert answer.status_code == 401
    assert messages_of(db, world) == []
