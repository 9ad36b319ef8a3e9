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

from omnidesk.channels.base import OutboundMessage
from omnidesk.channels.providers import actions
from omnidesk.channels.providers.models import ChannelDelivery, ProviderChannel
from omnidesk.channels.whatsapp.adapter import WhatsAppAdapter
from omnidesk.channels.widget.models import Attachment
from omnidesk.conversations.models import Conversation, Message
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


def _reply(db: Database, world: World, text: str = "Yes, in blue and green.") -> OutboundMessage:
    """An agent's answer in the customer's WhatsApp conversation, as the outbound writer hands it to adapters."""
    client_messages = messages_of(db, world)
    conversation_id = client_messages[0].conversation_id
    from omnidesk.conversations import actions as conversation_actions
    from omnidesk.conversations.schemas import SenderType

    with db.tenant_transaction(world.tenant_id) as s:
        conversation = s.get(Conversation, conversation_id)
        assert conversation is not None
        stored = conversation_actions.do_post_message(
            s, world.actor(), conversation, body=text, sender_type=SenderType.AGENT, sender_id=None
        )
        message = {"id": str(stored.id), "conversation_id": str(conversation_id), "seq": stored.seq, "body": text,
                   "sender_type": "agent", "payload": stored.payload}  # fmt: skip
    return OutboundMessage.from_stored(world.tenant_id, "whatsapp", message)


def _adapter(msg_app: FastAPI, db: Database) -> WhatsAppAdapter:
    from omnidesk.security.outbound import OutboundClient

    settings = msg_app.state.settings
    return WhatsAppAdapter(db, for_purpose(settings, Purpose.TENANT_SECRETS), OutboundClient(msg_app.state.outbound))


def test_a_reply_reaches_the_graph_api_and_status_callbacks_follow_it(
    msg_client: TestClient, msg_app: FastAPI, db: Database, world: World, providers: FakeProviders
) -> None:
    configure(db, world, providers, msg_app.state.settings)
    post(msg_client, world, just_now(load("whatsapp", "message__text.json")))
    outbound = _reply(db, world)
    providers.answers.append(503)  # the first attempt meets an outage: retried by the job queue
    adapter = _adapter(msg_app, db)
    first = adapter.deliver(outbound)
    assert first.retry and first.error
    delivery = adapter.deliver(outbound)
    assert delivery.channel_message_id and delivery.error is None
    sent = providers.sent("/graph/v21.0/106540352242922/messages")[-1]
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.json() == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": WA_ID,
                           "type": "text", "text": {"preview_url": False, "body": "Yes, in blue and green."}}  # fmt: skip
    assert adapter.deliver(outbound).channel_message_id == delivery.channel_message_id  # not sent twice
    assert len(providers.sent("/messages")) == 2

    def status(name: str) -> str:
        payload = json.loads(json.dumps(load("whatsapp", name)).replace("WAMID", delivery.channel_message_id or ""))
        assert post(msg_client, world, payload).status_code == 200
        with db.tenant_read(world.tenant_id) as s:
            row = s.scalar(select(ChannelDelivery).where(ChannelDelivery.message_id == outbound.message_id))
        assert row is not None
        return row.status

    assert status("status__read.json") == "read"
    assert status("status__delivered.json") == "read"  # a late "delivered" does not hide "read"


def test_outside_the_24_hour_window_only_a_template_is_sent_and_the_agent_is_told(
    msg_client: TestClient, msg_app: FastAPI, db: Database, world: World, providers: FakeProviders
) -> None:
    configure(db, world, providers, msg_app.state.settings)
    post(msg_client, world, just_now(load("whatsapp", "message__text.json")))
    with db.tenant_transaction(world.tenant_id) as s:
        s.execute(update(Message).values(created_at=utcnow() - timedelta(hours=25)))
    outbound = _reply(db, world, "Are you still there?")
    refused = _adapter(msg_app, db).deliver(outbound)
    assert refused.error and not refused.retry
    assert providers.sent("/messages") == []
    notes = [m for m in messages_of(db, world) if m.internal]
    assert len(notes) == 1 and "24" in notes[0].body

    template = {"name": "order_update", "language": "en_US"}
    with db.tenant_transaction(world.tenant_id) as s:
        s.execute(update(Message).where(Message.id == outbound.message_id).values(
            payload={"whatsapp_template": template}))  # fmt: skip
    # a new message id: the refused one keeps its refusal
    with db.tenant_transaction(world.tenant_id) as s:
        s.execute(update(ChannelDelivery).where(ChannelDelivery.message_id == outbound.message_id).values(
            status="queued"))  # fmt: skip
    sent = _adapter(msg_app, db).deliver(outbound)
    assert sent.channel_message_id
    body = providers.sent("/messages")[-1].json()
    assert body["type"] == "template" and body["template"] == {"name": "order_update", "language": {"code": "en_US"}}


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
