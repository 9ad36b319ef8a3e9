"""SMS through a Twilio-compatible API: signed form webhooks as Twilio sends them (recorded parameters), and the
Messages API call as the fake provider receives it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from omnidesk.channels.models import MessageDelivery
from omnidesk.channels.providers import actions
from omnidesk.channels.sms import protocol
from omnidesk.conversations.models import Conversation, Message
from omnidesk.core.db import Database
from omnidesk.customers.models import CustomerIdentity
from omnidesk.security.keys import Purpose, for_purpose
from tests.channels.messaging_support import SMS_SID, SMS_TOKEN, FakeProviders, load
from tests.factories import World


def configure(db: Database, world: World, providers: FakeProviders, msg_app: FastAPI) -> None:
    keys = for_purpose(msg_app.state.settings, Purpose.TENANT_SECRETS)
    with db.tenant_transaction(world.tenant_id) as s:
        actions.configure(s, world.actor(), keys, "sms",
                          config={"account_sid": SMS_SID, "from_number": "+14155550100",
                                  "api_base": f"{providers.url}/twilio"},
                          secrets={"auth_token": SMS_TOKEN})  # fmt: skip


def post(client: TestClient, world: World, params: dict[str, str], token: str = SMS_TOKEN) -> Any:
    url = f"{client.base_url}/api/v1/channels/sms/{world.slug}/webhook"
    return client.post(url, data=params, headers={"X-Twilio-Signature": protocol.signature(token, url, params)})


def messages_of(db: Database, world: World) -> list[Message]:
    with db.tenant_read(world.tenant_id) as s:
        ids = select(Conversation.id).where(Conversation.channel == "sms")
        return list(s.scalars(select(Message).where(Message.conversation_id.in_(ids)).order_by(Message.seq)))


def test_the_signature_covers_the_url_then_the_parameters_sorted_by_name() -> None:
    # The rule of Twilio's "Webhooks security" page, written out by hand: URL, then each name and value in order.
    params = {"To": "+18005551212", "CallSid": "CA1234567890ABCDE", "Digits": "1234", "From": "+12349013030",
              "Caller": "+12349013030"}  # fmt: skip
    url = "https://example.com/myapp.php?foo=1&bar=2"
    signed = url + "CallSidCA1234567890ABCDECaller+12349013030Digits1234From+12349013030To+18005551212"
    expected = base64.b64encode(hmac.new(b"12345", signed.encode(), hashlib.sha1).digest()).decode()
    assert protocol.signature("12345", url, params) == expected
    assert protocol.signature_ok("12345", url, params, expected)
    assert not protocol.signature_ok("12345", url.replace("foo=1", "foo=2"), params, expected)


def test_a_bad_signature_is_refused_and_nothing_is_stored(
    msg_client: TestClient, msg_app: FastAPI, db: Database, world: World, providers: FakeProviders
) -> None:
    configure(db, world, providers, msg_app)
    assert post(msg_client, world, load("sms", "message__received.json"), token="wrong").status_code == 401
    assert messages_of(db, world) == []


def test_an_sms_is_stored_once_and_a_reply_goes_out_with_status_callbacks(
    msg_client: TestClient, msg_app: FastAPI, db: Database, world: World, providers: FakeProviders
) -> None:
    configure(db, world, providers, msg_app)
    params = load("sms", "message__received.json")
    assert post(msg_client, world, params).status_code == 200
    answer = post(msg_client, world, params)  # Twilio retries on a timeout
    assert answer.status_code == 200 and "<Response></Response>" in answer.text
    (message,) = messages_of(db, world)
    assert message.body == "Is my order SO-1042 on its way?"
    with db.tenant_read(world.tenant_id) as s:
        identity = s.scalar(
            select(CustomerIdentity).where(CustomerIdentity.kind == "phone", CustomerIdentity.value == "+14155550123")
        )
    assert identity is not None and not identity.verified  # caller ID can be spoofed

    sent = msg_client.post(f"/api/v1/conversations/{message.conversation_id}/messages",
                           json={"body": "Yes, it arrives tomorrow."}, headers=world.headers())  # fmt: skip
    assert sent.status_code == 201
    call = providers.sent(f"/twilio/2010-04-01/Accounts/{SMS_SID}/Messages.json")[-1]
    assert call.form() == {"To": "+14155550123", "From": "+14155550100", "Body": "Yes, it arrives tomorrow."}
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    with db.tenant_read(world.tenant_id) as s:
        delivery = s.get_one(MessageDelivery, uuid.UUID(sent.json()["id"]))
    assert delivery.state == "sent" and delivery.channel_message_id

    def status(name: str) -> MessageDelivery:
        status_params = json.loads(json.dumps(load("sms", name)).replace("SMSID", delivery.channel_message_id or ""))
        assert post(msg_client, world, status_params).status_code == 200
        with db.tenant_read(world.tenant_id) as s:
            return s.get_one(MessageDelivery, delivery.message_id)

    assert status("status__delivered.json").state == "delivered"
    assert len(messages_of(db, world)) == 2  # a status callback stores no message
    failed = status("status__undelivered.json")
    assert failed.state == "failed" and "30003" in failed.error
