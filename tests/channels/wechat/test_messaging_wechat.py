"""WeChat Official Account: the callback as WeChat calls it (token signature, plain and AES safe mode, recorded
XML), and customer-service messages as the fake WeChat API receives them."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from omnidesk.channels.models import MessageDelivery
from omnidesk.channels.providers import actions
from omnidesk.channels.wechat import protocol
from omnidesk.conversations.models import Conversation, Message
from omnidesk.core.db import Database
from omnidesk.customers.models import CustomerIdentity
from omnidesk.security.keys import Purpose, for_purpose
from tests.channels.messaging_support import WX_ACCESS_TOKEN, WX_APP_ID, WX_SECRET, FakeProviders
from tests.factories import World

TOKEN = "wechat-callback-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as the console generates
XML = (Path(__file__).parent / "fixtures" / "message__text.xml").read_text("utf-8")


def configure(db: Database, world: World, providers: FakeProviders, msg_app: FastAPI) -> None:
    keys = for_purpose(msg_app.state.settings, Purpose.TENANT_SECRETS)
    with db.tenant_transaction(world.tenant_id) as s:
        actions.configure(s, world.actor(), keys, "wechat",
                          config={"app_id": WX_APP_ID, "api_base": f"{providers.url}/wechat"},
                          secrets={"app_secret": WX_SECRET, "token": TOKEN, "encoding_aes_key": AES_KEY})  # fmt: skip


def url(world: World) -> str:
    return f"/api/v1/channels/wechat/{world.slug}/webhook"


def signed(*extra: str, token: str = TOKEN) -> dict[str, str]:
    query = {"timestamp": "1733580000", "nonce": "1320562132"}
    query["signature"] = protocol.signature(token, query["timestamp"], query["nonce"])
    if extra:
        query["msg_signature"] = protocol.signature(token, query["timestamp"], query["nonce"], *extra)
        query["encrypt_type"] = "aes"
    return query


def messages_of(db: Database, world: World) -> list[Message]:
    with db.tenant_read(world.tenant_id) as s:
        ids = select(Conversation.id).where(Conversation.channel == "wechat")
        return list(s.scalars(select(Message).where(Message.conversation_id.in_(ids)).order_by(Message.seq)))


def test_the_echostr_handshake_and_a_bad_signature(
    msg_client: TestClient, msg_app: FastAPI, db: Database, world: World, providers: FakeProviders
) -> None:
    configure(db, world, providers, msg_app)
    ok = msg_client.get(url(world), params={**signed(), "echostr": "5837397520665436492"})
    assert (ok.status_code, ok.text) == (200, "5837397520665436492")
    assert msg_client.get(url(world), params={**signed(token="guess"), "echostr": "1"}).status_code == 403
    refused = msg_client.post(url(world), params=signed(token="guess"), content=XML.encode())
    assert refused.status_code == 401
    assert messages_of(db, world) == []


def test_plain_and_safe_mode_messages_are_stored_once(
    msg_client: TestClient, msg_app: FastAPI, db: Database, world: World, providers: FakeProviders
) -> None:
    configure(db, world, providers, msg_app)
    assert msg_client.post(url(world), params=signed(), content=XML.encode()).text == "success"
    # The same message again, now in safe mode (WeChat retries three times when we are slow): stored once.
    encrypted = protocol.encrypt(AES_KEY, WX_APP_ID, XML)
    envelope = (
        f"<xml><ToUserName><![CDATA[gh_3fb5b8a1b2c3]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    )
    assert msg_client.post(url(world), params=signed(encrypted), content=envelope.encode()).status_code == 200
    bad: Any = {**signed(encrypted), "msg_signature": "0" * 40}
    assert msg_client.post(url(world), params=bad, content=envelope.encode()).status_code == 401
    other_app = protocol.encrypt(AES_KEY, "wx0000000000000000", XML.replace("24523466253021548", "1"))
    other = f"<xml><Encrypt><![CDATA[{other_app}]]></Encrypt></xml>"
    assert msg_client.post(url(world), params=signed(other_app), content=other.encode()).status_code == 422
    entity = '<!DOCTYPE xml [<!ENTITY x "boom">]><xml><MsgId>&x;</MsgId></xml>'
    assert msg_client.post(url(world), params=signed(), content=entity.encode()).status_code == 422
    (message,) = messages_of(db, world)
    assert message.body == "你好，发票怎么开？"
    with db.tenant_read(world.tenant_id) as s:
        identity = s.scalar(select(CustomerIdentity).where(CustomerIdentity.kind == "wechat_openid"))
    assert identity is not None and (identity.value, identity.verified) == ("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", True)


def test_a_reply_goes_out_as_a_customer_service_message(
    msg_client: TestClient, msg_app: FastAPI, db: Database, world: World, providers: FakeProviders
) -> None:
    configure(db, world, providers, msg_app)
    msg_client.post(url(world), params=signed(), content=XML.encode())
    (message,) = messages_of(db, world)
    sent = msg_client.post(f"/api/v1/conversations/{message.conversation_id}/messages",
                           json={"body": "请在订单页点击“申请发票”。"}, headers=world.headers())  # fmt: skip
    assert sent.status_code == 201
    call = providers.sent(f"/wechat/cgi-bin/message/custom/send?access_token={WX_ACCESS_TOKEN}")[-1]
    assert call.json() == {"touser": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "msgtype": "text",
                           "text": {"content": "请在订单页点击“申请发票”。"}}  # fmt: skip
    with db.tenant_read(world.tenant_id) as s:
        assert s.get_one(MessageDelivery, uuid.UUID(sent.json()["id"])).state == "sent"
