"""The e-mail channel end to end, with real peers: messages as Gmail, Outlook, Apple Mail and Foxmail send them
arrive through the SMTP ingress (aiosmtpd), thread like mail clients do, and agents' answers leave through the
tenant's SMTP relay (a second aiosmtpd) in the customer's thread; bounces and auto-replies are recognised.

The app fixture makes follow-up jobs run as their transaction commits (``jobs_immediate``): an agent's reply has
been handed to the relay when the posting transaction returns."""

from __future__ import annotations

import base64
import smtplib
import uuid
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from fastapi import FastAPI
from sqlalchemy import select

from omnidesk.channels.email import adapter as email_adapter
from omnidesk.channels.email.actions import MailboxInput, save_mailbox
from omnidesk.channels.email.ingress import Ingress
from omnidesk.channels.models import MessageDelivery
from omnidesk.channels.widget.models import Attachment
from omnidesk.conversations import actions
from omnidesk.conversations.models import ChannelMessage, Conversation, Message
from omnidesk.conversations.schemas import SenderType
from omnidesk.core.actor import system_actor
from omnidesk.core.db import Database
from omnidesk.core.settings import Settings
from omnidesk.security.keys import Purpose, for_purpose
from tests.channels.email.conftest import Mailbox, Relay, fixture, send_to_ingress
from tests.factories import World


def conversations(db: Database, world: World) -> list[Conversation]:
    with db.tenant_read(world.tenant_id) as s:
        rows = list(
            s.scalars(select(Conversation).where(Conversation.channel == "email").order_by(Conversation.created_at))
        )
        s.expunge_all()
        return rows


def messages(db: Database, world: World, conversation_id: uuid.UUID) -> list[Message]:
    with db.tenant_read(world.tenant_id) as s:
        rows = list(s.scalars(select(Message).where(Message.conversation_id == conversation_id).order_by(Message.seq)))
        s.expunge_all()
        return rows


def answer(db: Database, world: World, conversation_id: uuid.UUID, body: str, sender: SenderType = SenderType.AGENT,
           payload: dict[str, Any] | None = None) -> uuid.UUID:  # fmt: skip
    with db.tenant_transaction(world.tenant_id) as s:
        conversation = s.get_one(Conversation, conversation_id)
        agent = world.actor()
        stored = actions.do_post_message(
            s, agent, conversation, body=body, sender_type=sender,
            sender_id=agent.id if sender == SenderType.AGENT else None, payload=payload,
        )  # fmt: skip
        return stored.id


def delivery_of(db: Database, world: World, message_id: uuid.UUID) -> MessageDelivery:
    with db.tenant_read(world.tenant_id) as s:
        row = s.get_one(MessageDelivery, message_id)
        s.expunge(row)
        return row


def new_to_relay(relay: Relay, before: int) -> list[Any]:
    return relay.messages()[before:]


def test_a_redelivered_message_is_stored_once(
    app: FastAPI, db: Database, world: World, mailbox: Mailbox, ingress: Ingress
) -> None:
    data = fixture("gmail__new.eml")
    assert send_to_ingress(ingress, mailbox.inbound, data) == {}
    send_to_ingress(ingress, mailbox.inbound, data)  # the MTA did not see our 250 and sends it again
    (conversation,) = conversations(db, world)
    assert conversation.channel == "email" and conversation.subject == "订单 1234 还没到"
    (message,) = messages(db, world, conversation.id)
    assert message.body.startswith("您好，") and "张敏" in message.body
    with db.tenant_read(world.tenant_id) as s:
        raw = s.scalar(select(ChannelMessage.raw).where(ChannelMessage.message_id == message.id))
    assert raw is not None and raw["message_id"].startswith("<CAJ8v2Yx")
    # The HTML is kept sanitised for display: no script, no event handler.
    assert "<script" not in raw["html"] and "onerror" not in raw["html"] and "订单 1234" in raw["html"]


def test_an_unknown_recipient_is_refused_before_the_data(ingress: Ingress) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send_to_ingress(ingress, f"nobody-{uuid.uuid4().hex[:6]}@shop.example", fixture("gmail__new.eml"))
    ((code, _),) = refused.value.recipients.values()
    assert code == 550


def test_an_agent_reply_leaves_in_the_thread_and_the_customer_reply_threads_back(
    app: FastAPI, db: Database, world: World, mailbox: Mailbox, ingress: Ingress, relay: Relay
) -> None:
    send_to_ingress(ingress, mailbox.inbound, fixture("gmail__new.eml"))
    (conversation,) = conversations(db, world)
    before = len(relay.messages())
    reply_id = answer(db, world, conversation.id, "您好，您的包裹今天已从仓库发出。",
                      payload={"cc": ["logistics@shop.example"]})  # fmt: skip

    (sent,) = new_to_relay(relay, before)
    customer_id = "<CAJ8v2Yx+PqT0kR4sK9yQ_e3nT7wLmZ2R=Vb8uFp1dGq@mail.gmail.com>"
    assert sent["In-Reply-To"] == customer_id and customer_id in sent["References"]
    assert sent["From"] == "Shop Support <support@shop.example>"
    assert str(sent["To"]).endswith("<zhang.min.buyer@gmail.com>") and sent["Cc"] == "logistics@shop.example"
    assert sent["Subject"] == "Re: 订单 1234 还没到"
    assert sent["Reply-To"] == mailbox.inbound.replace("@", f"+c{conversation.id.hex}@")
    assert sent["Auto-Submitted"] is None  # a person wrote it
    assert "包裹今天已从仓库发出" in sent.get_content()
    _, rcpts, _, _ = relay.received[-1]
    assert sorted(rcpts) == ["logistics@shop.example", "zhang.min.buyer@gmail.com"]
    delivered = delivery_of(db, world, reply_id)
    assert delivered.state == "sent" and delivered.channel_message_id == sent["Message-ID"]

    # Gmail's answer names our Message-ID in In-Reply-To and References: the same conversation, quote folded.
    send_to_ingress(ingress, mailbox.inbound, fixture("gmail__reply.eml", our_message_id=sent["Message-ID"]))
    (same,) = conversations(db, world)
    bodies = [m.body for m in messages(db, world, same.id)]
    assert bodies[-1] == "收到了，谢谢！"
    with db.tenant_read(world.tenant_id) as s:
        raw = s.scalar(select(ChannelMessage.raw).where(ChannelMessage.channel_message_id.like("<CAJ8v2YzQ3c1%")))
    assert raw is not None and "wrote:" in raw["text"]  # the original, quote included, is kept


def test_a_strangers_reply_to_the_same_message_opens_their_own_conversation(
    app: FastAPI, db: Database, world: World, mailbox: Mailbox, ingress: Ingress, relay: Relay
) -> None:
    send_to_ingress(ingress, mailbox.inbound, fixture("gmail__new.eml"))
    (first,) = conversations(db, world)
    before = len(relay.messages())
    answer(db, world, first.id, "Your parcel is on its way.")
    (sent,) = new_to_relay(relay, before)
    # Someone the mail was forwarded to (or a newsletter's reader) answers it with the same References.
    send_to_ingress(
        ingress, mailbox.inbound, fixture("newsletter__reply_stranger.eml", our_message_id=sent["Message-ID"])
    )
    first_again, theirs = conversations(db, world)
    assert first_again.id == first.id and theirs.id != first.id
    assert theirs.customer_id != first.customer_id
    assert len(messages(db, world, first.id)) == 2


def test_a_reply_without_headers_threads_by_contact_and_subject(
    app: FastAPI, db: Database, world: World, mailbox: Mailbox, ingress: Ingress
) -> None:
    send_to_ingress(ingress, mailbox.inbound, fixture("gmail__new.eml"))
    bare = (
        "From: Zhang Min <zhang.min.buyer@gmail.com>\r\nTo: support@shop.example\r\n"
        "Subject: =?UTF-8?B?5Zue5aSN77yaIOiuouWNlSAxMjM0IOi/mOayoeWIsA==?=\r\n"  # 回复： 订单 1234 还没到
        "Message-ID: <bare-1@gmail.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n还在等。\r\n"
    ).encode()
    send_to_ingress(ingress, mailbox.inbound, bare)
    (conversation,) = conversations(db, world)
    assert [m.body for m in messages(db, world, conversation.id)][-1] == "还在等。"


def test_a_gbk_body_declared_gb2312_is_decoded(
    app: FastAPI, db: Database, world: World, mailbox: Mailbox, ingress: Ingress
) -> None:
    send_to_ingress(ingress, mailbox.inbound, fixture("foxmail__gbk.eml"))
    (conversation,) = conversations(db, world)
    (message,) = messages(db, world, conversation.id)
    # 喆 is GBK, not GB2312: decoded all the same; Foxmail's quoted original is folded away.
    assert "应该是王喆（不是王哲）" in message.body and "原始邮件" not in message.body
    assert conversation.subject == "回复：订单 8899 修改收件人"


def test_an_auto_reply_gets_no_automatic_answer_but_a_person_may_answer(
    app: FastAPI, db: Database, world: World, mailbox: Mailbox, ingress: Ingress, relay: Relay
) -> None:
    send_to_ingress(ingress, mailbox.inbound, fixture("auto_reply__ooo.eml"))
    (conversation,) = conversations(db, world)
    before = len(relay.messages())
    bot_id = answer(db, world, conversation.id, "Thanks for your message!", sender=SenderType.BOT)
    suppressed = delivery_of(db, world, bot_id)
    assert suppressed.state == "failed" and "RFC 3834" in suppressed.error
    assert new_to_relay(relay, before) == []
    agent_id = answer(db, world, conversation.id, "Noted, we will write again in January.")
    assert delivery_of(db, world, agent_id).state == "sent"
    assert len(new_to_relay(relay, before)) == 1


def test_our_automatic_mail_is_marked_auto_submitted(
    app: FastAPI, db: Database, world: World, mailbox: Mailbox, ingress: Ingress, relay: Relay
) -> None:
    send_to_ingress(ingress, mailbox.inbound, fixture("gmail__new.eml"))
    (conversation,) = conversations(db, world)
    before = len(relay.messages())
    answer(db, world, conversation.id, "我们已收到您的邮件，客服会尽快回复。", sender=SenderType.SYSTEM)
    (sent,) = new_to_relay(relay, before)
    assert sent["Auto-Submitted"] == "auto-replied"


def test_a_bounce_marks_the_failed_delivery_and_opens_nothing(
    app: FastAPI, db: Database, world: World, mailbox: Mailbox, ingress: Ingress, relay: Relay
) -> None:
    send_to_ingress(ingress, mailbox.inbound, fixture("gmail__new.eml"))
    (conversation,) = conversations(db, world)
    before = len(relay.messages())
    reply_id = answer(db, world, conversation.id, "Where should we send it?")
    (sent,) = new_to_relay(relay, before)
    send_to_ingress(ingress, mailbox.inbound, fixture("bounce__dsn.eml", our_message_id=sent["Message-ID"]), "")
    bounced = delivery_of(db, world, reply_id)
    assert bounced.state == "failed" and "5.1.1" in bounced.error and "User unknown" in bounced.error
    assert len(conversations(db, world)) == 1 and len(messages(db, world, conversation.id)) == 2


def test_a_refused_relay_answer_fails_the_delivery(
    app: FastAPI, db: Database, world: World, mailbox: Mailbox, ingress: Ingress, relay: Relay
) -> None:
    send_to_ingress(ingress, mailbox.inbound, fixture("gmail__new.eml"))
    (conversation,) = conversations(db, world)
    relay.answers.append("554 5.7.1 message refused")
    reply_id = answer(db, world, conversation.id, "Hello")
    failed = delivery_of(db, world, reply_id)
    assert failed.state == "failed" and failed.error.startswith("554")


def test_attachments_are_checked_and_stored_like_uploads(
    app: FastAPI, db: Database, world: World, mailbox: Mailbox, ingress: Ingress
) -> None:
    send_to_ingress(ingress, mailbox.inbound, fixture("apple_mail__attachment.eml"))
    (conversation,) = conversations(db, world)
    text, pdf = messages(db, world, conversation.id)
    assert text.body.startswith("你好") and "发自我的 iPhone" not in text.body  # the signature is folded away
    assert "[attachment not accepted] setup.exe" in text.body
    assert pdf.kind == "attachment" and pdf.payload["attachment"]["filename"] == "invoice-5678.pdf"
    with db.tenant_read(world.tenant_id) as s:
        (row,) = s.scalars(select(Attachment).where(Attachment.conversation_id == conversation.id)).all()
        assert row.content_type == "application/pdf" and row.uploaded_by == "customer"


def test_an_outlook_reply_keeps_its_inline_image_and_folds_the_quoted_block(
    app: FastAPI, db: Database, world: World, mailbox: Mailbox, ingress: Ingress
) -> None:
    send_to_ingress(ingress, mailbox.inbound, fixture("outlook__reply.eml", our_message_id="<unknown@shop.example>"))
    (conversation,) = conversations(db, world)
    text, image = messages(db, world, conversation.id)
    assert text.body.endswith("Accounts Payable") and "Sent:" not in text.body
    assert image.kind == "attachment" and image.payload["attachment"]["content_type"] == "image/png"
    with db.tenant_read(world.tenant_id) as s:
        raw = s.scalar(select(ChannelMessage.raw).where(ChannelMessage.message_id == text.id))
    assert raw is not None and raw["inline"] == {"image001.png@01DB48A1.5C3E2F10": "image001.png"}
    assert 'src="cid:image001.png@01DB48A1.5C3E2F10"' in raw["html"] and "<style" not in raw["html"]


def test_mail_is_dkim_signed_when_a_key_is_configured(
    app: FastAPI, db: Database, settings: Settings, world: World, mailbox: Mailbox, ingress: Ingress, relay: Relay
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    public = base64.b64encode(key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))
    with db.tenant_transaction(world.tenant_id) as s:
        save_mailbox(
            s, system_actor(world.tenant_id), for_purpose(settings, Purpose.TENANT_SECRETS),
            MailboxInput(inbound_address=mailbox.inbound, from_address="support@shop.example", smtp_host="127.0.0.1",
                         smtp_port=relay.port, smtp_security="none", dkim_selector="od2026", dkim_private_key=pem),
            mailbox.id,
        )  # fmt: skip
    send_to_ingress(ingress, mailbox.inbound, fixture("gmail__new.eml"))
    (conversation,) = conversations(db, world)
    before = len(relay.messages())
    answer(db, world, conversation.id, "签名测试")
    assert len(new_to_relay(relay, before)) == 1
    _, _, sent, raw = relay.received[-1]
    assert "d=shop.example" in str(sent["DKIM-Signature"]) and "s=od2026" in str(sent["DKIM-Signature"])

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"od2026._domainkey.shop.example."
        return b"v=DKIM1; k=rsa; p=" + public

    assert dkim.verify(raw, dnsfunc=dns)  # a receiver holding the published key accepts the signature


def test_automatic_mail_to_one_customer_is_rate_limited(
    app: FastAPI, db: Database, world: World, mailbox: Mailbox, ingress: Ingress, relay: Relay,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(email_adapter, "AUTO_REPLIES_PER_HOUR", 2)
    send_to_ingress(ingress, mailbox.inbound, fixture("gmail__new.eml"))
    (conversation,) = conversations(db, world)
    states = [
        delivery_of(db, world, answer(db, world, conversation.id, f"自动回复 {n}", sender=SenderType.BOT)).state
        for n in range(3)
    ]
    assert states == ["sent", "sent", "failed"]
    assert delivery_of(db, world, answer(db, world, conversation.id, "人工回复")).state == "sent"  # a person still can
